//! Which interface carries traffic to an address: `lo` for loopback and for the machine's own
//! addresses (Linux routes those over `lo`), otherwise the longest-prefix route of the kernel's
//! routing tables (`/proc/net/route`, `/proc/net/ipv6_route`). The parsing is pure and tested
//! with canned table text; [`interface_for`] is the I/O edge.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The loopback interface's name on Linux.
pub const LOOPBACK_INTERFACE: &str = "lo";

/// The interface carrying `ip`, given the machine's own addresses and the routing tables' text.
pub fn choose_interface(
    ip: IpAddr,
    local_addrs: &[IpAddr],
    route_v4: &str,
    route_v6: &str,
) -> Option<String> {
    if ip.is_loopback() || local_addrs.contains(&ip) {
        return Some(LOOPBACK_INTERFACE.to_string());
    }
    match ip {
        IpAddr::V4(v4) => best_route_v4(route_v4, v4),
        IpAddr::V6(v6) => best_route_v6(route_v6, v6),
    }
}

/// Longest-prefix match in `/proc/net/route` text (lowest metric breaks ties).
pub fn best_route_v4(table: &str, ip: Ipv4Addr) -> Option<String> {
    const RTF_UP: u32 = 0x1;
    let target = u32::from(ip);
    let mut best: Option<(u32, u32, &str)> = None; // (prefix length, metric, iface)
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let parse = |s: &str| u32::from_str_radix(s, 16).ok();
        let (Some(dest), Some(flags), Some(mask)) = (parse(f[1]), parse(f[3]), parse(f[7])) else {
            continue;
        };
        let metric: u32 = f[6].parse().unwrap_or(u32::MAX);
        // The kernel prints the in-memory (network order) word as a host-order hex number.
        let dest = u32::from(Ipv4Addr::from(dest.to_le_bytes()));
        let mask = u32::from(Ipv4Addr::from(mask.to_le_bytes()));
        if flags & RTF_UP == 0 || target & mask != dest & mask {
            continue;
        }
        let prefix = mask.count_ones();
        if best.is_none_or(|(p, m, _)| prefix > p || (prefix == p && metric < m)) {
            best = Some((prefix, metric, f[0]));
        }
    }
    best.map(|(_, _, iface)| iface.to_string())
}

/// Longest-prefix match in `/proc/net/ipv6_route` text (lowest metric breaks ties).
pub fn best_route_v6(table: &str, ip: Ipv6Addr) -> Option<String> {
    const RTF_UP: u32 = 0x1;
    const RTF_REJECT: u32 = 0x200;
    let target = u128::from(ip);
    let mut best: Option<(u32, u32, &str)> = None;
    for line in table.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let (Ok(dest), Ok(prefix), Ok(metric), Ok(flags)) = (
            u128::from_str_radix(f[0], 16),
            u32::from_str_radix(f[1], 16),
            u32::from_str_radix(f[5], 16),
            u32::from_str_radix(f[8], 16),
        ) else {
            continue;
        };
        if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 || prefix > 128 {
            continue;
        }
        let mask = if prefix == 0 {
            0
        } else {
            u128::MAX << (128 - prefix)
        };
        if target & mask != dest & mask {
            continue;
        }
        if best.is_none_or(|(p, m, _)| prefix > p || (prefix == p && metric < m)) {
            best = Some((prefix, metric, f[9]));
        }
    }
    best.map(|(_, _, iface)| iface.to_string())
}

/// The interface carrying `ip` on this machine, from its addresses and routing tables.
pub fn interface_for(ip: IpAddr) -> Option<String> {
    let local_addrs: Vec<IpAddr> = pcap::Device::list()
        .map(|devices| {
            devices
                .iter()
                .flat_map(|d| d.addresses.iter().map(|a| a.addr))
                .collect()
        })
        .unwrap_or_default();
    let v4 = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let v6 = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    choose_interface(ip, &local_addrs, &v4, &v6)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE_V4: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
wg0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0
down0\t0010000A\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0
";

    const ROUTE_V6: &str = "\
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
20010db8000000000000000000000000 20 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     wg0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";

    #[test]
    fn loopback_and_local_addresses_use_lo() {
        let local: IpAddr = "192.168.2.7".parse().unwrap();
        for ip in ["127.0.0.1", "127.3.4.5", "::1", "192.168.2.7"] {
            let got = choose_interface(ip.parse().unwrap(), &[local], ROUTE_V4, ROUTE_V6);
            assert_eq!(got.as_deref(), Some("lo"), "{ip}");
        }
    }

    #[test]
    fn ipv4_longest_prefix_wins() {
        let pick = |ip: &str| best_route_v4(ROUTE_V4, ip.parse().unwrap());
        assert_eq!(pick("192.168.2.50").as_deref(), Some("eth0"));
        assert_eq!(pick("10.9.8.7").as_deref(), Some("wg0"));
        assert_eq!(
            pick("10.0.16.1").as_deref(),
            Some("wg0"),
            "down routes are ignored"
        );
        assert_eq!(
            pick("93.184.216.34").as_deref(),
            Some("eth0"),
            "default route"
        );
        assert_eq!(
            best_route_v4("header only\n", "1.2.3.4".parse().unwrap()),
            None
        );
    }

    #[test]
    fn ipv6_longest_prefix_wins() {
        let pick = |ip: &str| best_route_v6(ROUTE_V6, ip.parse().unwrap());
        assert_eq!(pick("2001:db8::5").as_deref(), Some("wg0"));
        assert_eq!(pick("fe80::1234").as_deref(), Some("eth0"));
        assert_eq!(
            pick("2606:4700::1").as_deref(),
            Some("eth0"),
            "default route"
        );
        assert_eq!(
            best_route_v6("garbage line\n", "::2".parse().unwrap()),
            None
        );
    }
}
