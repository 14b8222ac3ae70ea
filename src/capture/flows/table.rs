//! The flow table: 4-tuples packed into small keys with a fast hasher, live flows and the
//! tombstones of handed-out ones, one table per address family.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A fast, non-cryptographic hasher for the flow table (FxHash-style multiply and rotate); the
/// keys come from one capture.
#[derive(Default, Clone, Copy)]
pub struct FlowHasher(u64);

impl Hasher for FlowHasher {
    fn finish(&self) -> u64 {
        // The multiply mixes upward: move the well-mixed high bits to where hashbrown takes the
        // bucket index from (as rustc-hash 2 does).
        self.0.rotate_left(26)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A flow-table key: a 4-tuple packed for cheap hashing and comparison. IPv4 and IPv6 flows live
/// in separate tables so that the common IPv4 key stays 16 bytes: the tombstone table holds
/// thousands of entries in a high-churn capture and is probed at random, so its size decides
/// how often those probes miss the cache.
pub(super) trait TableKey: Copy + Eq + Hash {
    /// The table of this key type.
    fn table(tables: &mut Tables) -> &mut Table<Self>;
}

pub(super) type FlowMap<V, K> = HashMap<K, V, BuildHasherDefault<FlowHasher>>;

/// The live flows and tombstones of one address family.
pub(super) struct Table<K> {
    /// Key to an index into the slab; flows stay put in the slab so the table stays small.
    pub(super) flows: FlowMap<usize, K>,
    /// 4-tuples of handed-out connections and when they were handed out.
    pub(super) tombstones: FlowMap<u64, K>,
}

impl<K> Default for Table<K> {
    fn default() -> Self {
        Table {
            flows: HashMap::default(),
            tombstones: HashMap::default(),
        }
    }
}

#[derive(Default)]
pub(super) struct Tables {
    pub(super) v4: Table<V4Key>,
    pub(super) v6: Table<V6Key>,
}

/// An IPv4 4-tuple: both addresses in one word, both ports in another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct V4Key {
    pub(super) ips: u64,
    pub(super) ports: u32,
}

impl Hash for V4Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.ips);
        state.write_u32(self.ports);
    }
}

impl TableKey for V4Key {
    fn table(tables: &mut Tables) -> &mut Table<Self> {
        &mut tables.v4
    }
}

/// Any other 4-tuple (IPv6; mixed families are keyed here too, never merged with IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct V6Key {
    pub(super) client_ip: u128,
    pub(super) server_ip: u128,
    pub(super) ports: u32,
    pub(super) v6: bool,
}

impl Hash for V6Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let fold = |v: u128| (v as u64) ^ ((v >> 64) as u64).rotate_left(29);
        state.write_u64(fold(self.client_ip) ^ fold(self.server_ip).rotate_left(7));
        state.write_u64(u64::from(self.ports) | u64::from(self.v6) << 32);
    }
}

impl TableKey for V6Key {
    fn table(tables: &mut Tables) -> &mut Table<Self> {
        &mut tables.v6
    }
}
