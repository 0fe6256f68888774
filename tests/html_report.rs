//! The HTML report in a real browser: headless Chromium (Debian's `chromium`, installed by
//! tests/deps/chromium.sh) loads the page `ospecc run` writes for the mock-only shop, the page
//! `report merge` writes from the shards' bundles and the one `replay` writes, and a probe
//! script added to a copy of each page reads what the browser rendered: the summary badge's
//! text and colours, and for every test its lanes, arrows, fault windows, fired faults and
//! verdict marks, with their drawn sizes. The three pages must show the same pictures.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{ospecc_with, repo_root, run_command, Run};
use serde_json::Value;

const SHOP: &str = "tests/runs/scale/shop.star";

fn ospecc(cwd: &Path, args: &[&str]) -> Run {
    ospecc_with(cwd, args, None, &[], Duration::from_secs(120))
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Reads, after the page's layout, what the browser drew, into `<pre id="probe">`.
const PROBE: &str = r#"<script>
addEventListener('load', () => {
  const badge = document.querySelector('header .verdict');
  const style = getComputedStyle(badge);
  const rect = badge.getBoundingClientRect();
  const tests = [...document.querySelectorAll('svg.lanes')].map(svg => {
    const count = sel => svg.querySelectorAll(sel).length;
    const drawn = sel => [...svg.querySelectorAll(sel)].filter(e => { const b = e.getBBox(); return b.width > 0 || b.height > 0; }).length;
    return { test: svg.dataset.test, lanes: [...svg.querySelectorAll('g.lane')].map(g => g.dataset.service),
      arrows: count('line.arrow'), drawn_arrows: drawn('line.arrow'), bad_arrows: count('line.arrow.bad'),
      fault_windows: drawn('rect.fault-window'), partitions: count('rect.partition'), fired: drawn('path.fired'),
      held: count('.verdict-mark.held'), broken: count('.verdict-mark.broken'), height: svg.getBoundingClientRect().height };
  });
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify({ badge: { text: badge.textContent, color: style.color, background: style.backgroundColor,
    width: rect.width, height: rect.height }, tests });
  document.body.appendChild(pre);
});
</script>"#;

/// What Chromium rendered of `page` (through the probe).
fn rendered(browser: &Path, page: &Path) -> Value {
    let html = std::fs::read_to_string(page).unwrap();
    let probed = page.with_extension("probe.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let mut command = Command::new(browser);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=5000",
        &format!("--user-data-dir={}", profile.path().display()),
        "--dump-dom",
        &format!("file://{}", probed.display()),
    ]);
    let run = run_command(command, None, Duration::from_secs(120));
    assert_eq!(run.code, Some(0), "chromium: {}", run.stderr);
    let dom = roxmltree_free_probe(&run.stdout);
    serde_json::from_str(&dom).unwrap_or_else(|e| panic!("probe output {dom}: {e}"))
}

/// The probe's JSON out of the dumped DOM (HTML-escaped text of `<pre id="probe">`).
fn roxmltree_free_probe(dom: &str) -> String {
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + "<pre id=\"probe\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    dom[start..end].replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

fn rgb(text: &str) -> Vec<u8> {
    text.trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .take(3)
        .map(|c| c.trim().parse().unwrap())
        .collect()
}

/// Per test: (lanes, arrows, bad arrows, fault windows, fired faults, failed verdicts).
fn pictures(page: &Value) -> Vec<(String, Value)> {
    page["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let shape = serde_json::json!([
                t["lanes"],
                t["arrows"],
                t["bad_arrows"],
                t["fault_windows"],
                t["fired"],
                t["broken"]
            ]);
            (t["test"].as_str().unwrap().to_owned(), shape)
        })
        .collect()
}

#[test]
fn the_report_is_a_picture_of_the_run_in_a_real_browser() {
    let Some(browser) = chromium() else {
        eprintln!("SKIP: chromium is not installed (tests/deps/chromium.sh installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let shop = repo_root().join(SHOP).display().to_string();
    let run =
        ospecc(dir.path(), &["run", &shop, "--seed", "4", "--report", "run.html", "--bundle", "run.ospecc-bundle"]);
    run.expect(1);
    for k in 1..=2 {
        let shard = format!("{k}/2");
        let bundle = format!("shard-{k}.ospecc-bundle");
        ospecc(dir.path(), &["run", &shop, "--seed", "4", "--shard", &shard, "--bundle", &bundle]).no_panic();
    }
    ospecc(
        dir.path(),
        &["report", "merge", "shard-1.ospecc-bundle", "shard-2.ospecc-bundle", "--report", "merged.html"],
    )
    .expect(1);
    ospecc(dir.path(), &["replay", "run.ospecc-bundle", "--report", "replay.html"]).expect(0);

    let page = rendered(&browser, &dir.path().join("run.html"));
    let badge = &page["badge"];
    assert_eq!(badge["text"], "FAILED");
    assert!(badge["width"].as_f64().unwrap() > 10.0 && badge["height"].as_f64().unwrap() > 5.0, "{badge}");
    let (color, background) = (rgb(badge["color"].as_str().unwrap()), rgb(badge["background"].as_str().unwrap()));
    let distance: i32 = color.iter().zip(&background).map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs()).sum();
    assert!(distance > 200, "the badge's text stands out from its background: {badge}");

    let tests = page["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 7, "every test has a timeline, passed ones too: {page}");
    for test in tests {
        assert_eq!(test["lanes"], serde_json::json!(["test", "orders", "users"]), "{test}");
        assert!(test["arrows"].as_u64().unwrap() >= 1 && test["arrows"] == test["drawn_arrows"], "{test}");
        assert!(test["height"].as_f64().unwrap() > 100.0, "{test}");
    }
    let by_name = |name: &str| tests.iter().find(|t| t["test"] == name).unwrap();
    let flaky = by_name("test_c_flaky_users");
    assert_eq!(flaky["arrows"], 8);
    assert_eq!(flaky["fault_windows"], 1, "the fault() window on users: {flaky}");
    assert!(flaky["fired"].as_u64().unwrap() >= 1 && flaky["fired"] == flaky["bad_arrows"], "each 502 fired: {flaky}");
    assert_eq!(by_name("test_b_create_is_refused")["broken"], 1, "the failed assertion is marked");
    assert_eq!(by_name("test_f_budget")["broken"], 1, "the monitor's verdict is marked");
    assert!(by_name("test_a_lookup")["held"].as_u64().unwrap() >= 2, "held assertions are marked");

    // report merge and replay draw the same pictures.
    for other in ["merged.html", "replay.html"] {
        let again = rendered(&browser, &dir.path().join(other));
        assert_eq!(again["badge"]["text"], "FAILED", "{other}");
        assert_eq!(pictures(&again), pictures(&page), "{other}");
    }
}
