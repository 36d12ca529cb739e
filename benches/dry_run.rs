//! Dry run of large files to JSONL: wall time and peak memory of the real
//! binary, against Python's bare `csv.reader` over the same file. Then the
//! HTML preview of 200,000 rows: wall time, peak memory and page size.
//!
//!     cargo bench --bench dry_run            # 100,000 and 1,000,000 rows; HTML of 200,000
//!
//! Figures are recorded in docs/benchmarks.md.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_campaign");

fn write_rows(path: &Path, n: usize) {
    let names = ["Ana", "Bruno", "Chloé", "Diego", "Erin", "Farah", "Goran", "Hiro", "Ines", "Jonas"];
    let mut s = String::with_capacity(n * 48);
    s.push_str("phone,first_name,sku,discount,last_inbound_at\n");
    for i in 0..n {
        let last = if i % 3 == 0 {
            format!("2026-11-{:02}T{:02}:{:02}:00Z", 20 + i % 4, i % 24, i % 60)
        } else {
            String::new()
        };
        // 604-200-0000 onwards: numbers of the Canadian numbering plan.
        let phone = 2_000_000 + i;
        let _ =
            writeln!(s, "+1604{phone:07},{},SKU-{:05},{},{last}", names[(i * 7) % names.len()], i % 5000, 10 + i % 30);
    }
    std::fs::write(path, s).unwrap();
}

/// Peak RSS of a child in KiB, via GNU time when it is there.
fn timed(dir: &Path, args: &[&str]) -> (f64, Option<u64>) {
    timed_to(dir, args, Stdio::null())
}

/// The same, with the child's stdout going to `stdout`.
fn timed_to(dir: &Path, args: &[&str], stdout: Stdio) -> (f64, Option<u64>) {
    let has_time = Path::new("/usr/bin/time").exists();
    let rss_file = dir.join("rss.txt");
    let mut cmd = if has_time {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%M", "-o"]).arg(&rss_file).arg(BIN);
        c
    } else {
        Command::new(BIN)
    };
    let start = Instant::now();
    let status = cmd.args(args).current_dir(dir).stdout(stdout).stderr(Stdio::null()).status().unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert!(status.success(), "campaign failed");
    let rss = std::fs::read_to_string(&rss_file).ok().and_then(|s| s.trim().lines().last()?.parse().ok());
    (secs, rss)
}

fn python_csv(file: &Path) -> Option<f64> {
    let code = format!(
        "import csv,time\nt=time.perf_counter()\nfor r in csv.reader(open({:?}, newline='')): pass\nprint(time.perf_counter()-t)",
        file.display().to_string()
    );
    let out = Command::new("python3").args(["-c", &code]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn campaign_file(n: usize) -> String {
    format!(
        "name: bench\nbusiness_id: f1980bf7-c7d6-40ec-b665-dbe13620bffa\nrecipients:\n  csv: rows{n}.csv\n  last_inbound_column: last_inbound_at\nsession:\n  body: body.j2\ntemplate:\n  name: spring_sale\n  parameters:\n    body_1: \"{{{{ first_name }}}}\"\n    body_2: \"{{{{ discount }}}}%\"\n"
    )
}

/// The HTML preview of `n` rows: a sample of messages, every count exact.
fn html(dir: &Path, n: usize) {
    let csv = dir.join(format!("rows{n}.csv"));
    write_rows(&csv, n);
    std::fs::write(dir.join("bench.yaml"), campaign_file(n)).unwrap();
    let page = dir.join("page.html");
    let args = ["run", "bench.yaml", "--dry-run", "--at", "2026-11-23T12:00:00Z", "--format", "html"];
    let runs: Vec<(f64, Option<u64>)> =
        (0..3).map(|_| timed_to(dir, &args, Stdio::from(std::fs::File::create(&page).unwrap()))).collect();
    let best = runs.iter().map(|r| r.0).fold(f64::MAX, f64::min);
    let rss = runs.iter().filter_map(|r| r.1).max();
    let kb = std::fs::metadata(&page).unwrap().len() as f64 / 1024.0;
    println!("\nHTML preview, best of 3 runs");
    println!("{:>10} {:>10} {:>12} {:>10}", "rows", "wall s", "peak RSS MB", "page KB");
    println!(
        "{n:>10} {best:>10.2} {:>12} {kb:>10.0}",
        rss.map(|k| format!("{:.0}", k as f64 / 1024.0)).unwrap_or_else(|| "-".into())
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("body.j2"), "Hi {{ first_name }}, {{ discount }}% off {{ sku }} this week.")
        .unwrap();
    println!("dry run to JSONL: body template + two template parameters, best of 3 runs");
    println!("{:>10} {:>9} {:>10} {:>12} {:>14}", "rows", "file MB", "wall s", "peak RSS MB", "python csv s");
    for n in [100_000usize, 1_000_000] {
        let csv = dir.path().join(format!("rows{n}.csv"));
        write_rows(&csv, n);
        std::fs::write(dir.path().join("bench.yaml"), campaign_file(n)).unwrap();
        let args = ["run", "bench.yaml", "--dry-run", "--at", "2026-11-23T12:00:00Z", "--format", "jsonl"];
        let runs: Vec<(f64, Option<u64>)> = (0..3).map(|_| timed(dir.path(), &args)).collect();
        let best = runs.iter().map(|r| r.0).fold(f64::MAX, f64::min);
        let rss = runs.iter().filter_map(|r| r.1).max();
        let py = (0..3).filter_map(|_| python_csv(&csv)).fold(f64::MAX, f64::min);
        let mb = std::fs::metadata(&csv).unwrap().len() as f64 / 1e6;
        println!(
            "{n:>10} {mb:>9.1} {best:>10.2} {:>12} {:>14}",
            rss.map(|k| format!("{:.0}", k as f64 / 1024.0)).unwrap_or_else(|| "-".into()),
            if py < f64::MAX { format!("{py:.2}") } else { "-".into() }
        );
    }
    html(dir.path(), 200_000);
}
