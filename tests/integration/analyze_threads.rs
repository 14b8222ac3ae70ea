//! `kalab analyze --threads N`: a capture of a real churn run, read on one thread and on
//! several, gives byte-identical output in every format.

use crate::helpers::{capture_expected, kalab};

#[test]
fn any_number_of_threads_gives_the_same_analysis_of_a_real_capture() {
    if !capture_expected() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("churn.toml"),
        "name = \"churn\"\n[server]\nkeep_alive = false\n[client]\nkeep_alive = false\n\
         [pattern]\nkind = \"concurrent\"\nworkers = 4\nrequests_per_worker = 150\n",
    )
    .unwrap();
    let run = kalab()
        .current_dir(dir.path())
        .args([
            "run",
            "churn.toml",
            "-q",
            "--save-capture",
            "caps",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let capture = std::fs::read_dir(dir.path().join("caps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pcap"))
        .expect("a saved capture");
    for format in ["json", "table", "csv"] {
        let analyse = |threads: &str| {
            let out = kalab()
                .arg("analyze")
                .arg(&capture)
                .args(["--format", format, "--threads", threads])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let one = analyse("1");
        if format == "json" {
            let parsed: serde_json::Value = serde_json::from_str(&one).unwrap();
            assert_eq!(parsed["summary"]["connections_opened"], 600, "{one:.400}");
            assert_eq!(parsed["summary"]["requests"], 600);
        }
        for threads in ["2", "4"] {
            assert!(
                analyse(threads) == one,
                "{format} on {threads} threads differs"
            );
        }
    }
    let refused = kalab()
        .arg("analyze")
        .arg(&capture)
        .args(["--threads", "0"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
}
