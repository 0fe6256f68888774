//! A test's run as a picture (the HTML report's timelines): an inline SVG with one lane per
//! service and one for the test driver, time left to right; each step an arrow from the driver
//! to the service it called (red when it failed or answered 5xx); fault windows shaded on the
//! lanes they target and partitions hatched across both sides; fired faults (a proxy's or a
//! syscall's non-`allow` decision) crossed on their lane; assertions and monitor verdicts as
//! marks on the driver's lane (green held, red failed). Everything is drawn by the server: the
//! page needs no script.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use serde_json::Value;

use super::html::escape;
use super::model::ItemResult;
use crate::events::Event;

/// The test driver's lane (its events' service).
pub const DRIVER: &str = "test";
const LABEL_W: f64 = 120.0;
const PLOT_W: f64 = 820.0;
const LANE_H: f64 = 34.0;
const TOP: f64 = 22.0;
/// Marks drawn at most per timeline (the trace has them all).
const MARK_LIMIT: usize = 1500;

/// The definitions every timeline refers to (arrow heads, the partition hatch), once per page.
pub const DEFS: &str = "<svg class=\"lane-defs\" width=\"0\" height=\"0\" aria-hidden=\"true\"><defs>\
<marker id=\"arrow-head\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#455a64\"/></marker>\
<marker id=\"arrow-head-bad\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#c62828\"/></marker>\
<pattern id=\"partition-hatch\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"8\" height=\"8\" fill=\"rgba(106,27,154,.10)\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"rgba(106,27,154,.55)\" stroke-width=\"3\"/></pattern>\
</defs></svg>\n";

/// The page's CSS for timelines.
pub const STYLE: &str = r#"
svg.lanes { display: block; margin: .4em 0 1em; background: #fff; border: 1px solid var(--line); border-radius: 4px; }
svg.lanes text { font: 11px system-ui, sans-serif; fill: #424242; }
svg.lanes .lane-bg { fill: #fafafa; } svg.lanes .lane-bg.odd { fill: #f0f0f0; }
svg.lanes .lane-line { stroke: #bdbdbd; stroke-width: 1; }
svg.lanes .arrow { stroke: #455a64; stroke-width: 1.4; fill: none; }
svg.lanes .arrow.bad { stroke: #c62828; }
svg.lanes .fault-window { fill: rgba(230, 81, 0, .16); stroke: rgba(230, 81, 0, .6); stroke-dasharray: 3 2; }
svg.lanes .partition { fill: url(#partition-hatch); stroke: rgba(106, 27, 154, .6); }
svg.lanes .fired { stroke: #c62828; stroke-width: 2.2; }
svg.lanes .verdict-mark.held { fill: #2e7d32; } svg.lanes .verdict-mark.broken { fill: #c62828; }
svg.lanes .exit { fill: #212121; }
.lane-legend span { display: inline-block; margin-right: 1em; font-size: .9em; }
.lane-legend i { display: inline-block; width: 1.4em; height: .8em; vertical-align: middle; margin-right: .3em; border-radius: 2px; }
"#;

/// The legend shown once above the timelines.
pub fn legend() -> String {
    "<p class=\"lane-legend\"><span><i style=\"border-top:2px solid #455a64\"></i>step (driver → service)</span>\
<span><i style=\"border-top:2px solid #c62828\"></i>failed step</span>\
<span><i style=\"background:rgba(230,81,0,.25)\"></i>fault window</span>\
<span><i style=\"background:repeating-linear-gradient(45deg,rgba(106,27,154,.55) 0 2px,rgba(106,27,154,.1) 2px 6px)\"></i>partition</span>\
<span><b style=\"color:#c62828\">✕</b> fault fired</span>\
<span><b style=\"color:#2e7d32\">●</b> assertion held</span><span><b style=\"color:#c62828\">◆</b> assertion or monitor failed</span></p>\n"
        .to_owned()
}

struct Frame {
    start: f64,
    span: f64,
    lanes: Vec<String>,
}

impl Frame {
    fn x(&self, at_ms: f64) -> f64 {
        LABEL_W + ((at_ms - self.start) / self.span).clamp(0.0, 1.0) * PLOT_W
    }

    fn y(&self, service: &str) -> Option<f64> {
        self.lanes.iter().position(|l| l == service).map(|i| TOP + i as f64 * LANE_H + LANE_H / 2.0)
    }

    fn lane_top(&self, service: &str) -> Option<f64> {
        self.y(service).map(|y| y - LANE_H / 2.0 + 3.0)
    }
}

fn text<'a>(event: &'a Event, key: &str) -> &'a str {
    event.fields.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A fault target (`users.http`, `db`) as the lane it is drawn on.
fn lane_of(target: &str) -> &str {
    target.split('.').next().unwrap_or(target)
}

/// The lanes of a timeline: the driver, the plan's services in order, then any other service
/// its events name (the runner's own events have no lane).
pub fn lanes(services: &[String], slice: &[Event]) -> Vec<String> {
    let mut lanes = vec![DRIVER.to_owned()];
    lanes.extend(services.iter().filter(|s| s.as_str() != DRIVER).cloned());
    for event in slice {
        let s = event.service.as_str();
        if !s.is_empty() && s != "runner" && !lanes.iter().any(|l| l == s) {
            lanes.push(s.to_owned());
        }
    }
    lanes
}

/// The SVG of one result's events.
pub fn svg(item: &ItemResult, slice: &[Event], services: &[String]) -> String {
    let lanes = lanes(services, slice);
    let start = slice.first().map_or(0.0, |e| e.at_ms);
    let end = slice.last().map_or(start, |e| e.at_ms);
    let frame = Frame { start, span: (end - start).max(1.0), lanes };
    let height = TOP + frame.lanes.len() as f64 * LANE_H + 16.0;
    let width = LABEL_W + PLOT_W + 20.0;
    let mut out = format!(
        "<svg class=\"lanes\" role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" data-test=\"{}\">\n<title>{} timeline</title>\n",
        escape(&item.name),
        escape(&item.name)
    );
    draw_lanes(&mut out, &frame, width);
    draw_windows(&mut out, &frame, slice, end);
    draw_marks(&mut out, &frame, item, slice);
    let _ = writeln!(
        out,
        "<text x=\"{LABEL_W}\" y=\"{}\">0 ms</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.1} ms</text>",
        height - 4.0,
        LABEL_W + PLOT_W,
        height - 4.0,
        end - start
    );
    out.push_str("</svg>\n");
    out
}

fn draw_lanes(out: &mut String, frame: &Frame, width: f64) {
    for (i, lane) in frame.lanes.iter().enumerate() {
        let top = TOP + i as f64 * LANE_H;
        let mid = top + LANE_H / 2.0;
        let _ = writeln!(
            out,
            "<g class=\"lane\" data-service=\"{}\"><rect class=\"lane-bg{}\" x=\"0\" y=\"{top}\" width=\"{width}\" height=\"{LANE_H}\"/>\
<line class=\"lane-line\" x1=\"{LABEL_W}\" y1=\"{mid}\" x2=\"{}\" y2=\"{mid}\"/><text class=\"lane-label\" x=\"6\" y=\"{}\">{}</text></g>",
            escape(lane),
            if i % 2 == 1 { " odd" } else { "" },
            LABEL_W + PLOT_W,
            mid + 4.0,
            escape(if lane == DRIVER { "test driver" } else { lane })
        );
    }
}

/// Fault windows (`fault_applied` … `fault_removed`) and partitions (`partition_applied` …
/// `partition_removed`); one still open at the end lasts to the end.
fn draw_windows(out: &mut String, frame: &Frame, slice: &[Event], end: f64) {
    let mut faults: Vec<(f64, &Event)> = Vec::new();
    let mut partitions: Vec<(f64, &Event)> = Vec::new();
    let mut closed: Vec<(f64, f64, &Event, bool)> = Vec::new();
    for event in slice {
        match event.kind.as_str() {
            "fault_applied" => faults.push((event.at_ms, event)),
            "fault_removed" => {
                let scope = text(event, "scope");
                if let Some(i) = faults.iter().rposition(|(_, e)| text(e, "scope") == scope) {
                    let (from, opened) = faults.remove(i);
                    closed.push((from, event.at_ms, opened, false));
                }
            }
            "partition_applied" => partitions.push((event.at_ms, event)),
            "partition_removed" => {
                let pair = |e: &Event| {
                    let (a, b) = (text(e, "a").to_owned(), text(e, "b").to_owned());
                    if a <= b {
                        (a, b)
                    } else {
                        (b, a)
                    }
                };
                if let Some(i) = partitions.iter().rposition(|(_, e)| pair(e) == pair(event)) {
                    let (from, opened) = partitions.remove(i);
                    closed.push((from, event.at_ms, opened, true));
                }
            }
            _ => {}
        }
    }
    closed.extend(faults.into_iter().map(|(from, e)| (from, end, e, false)));
    closed.extend(partitions.into_iter().map(|(from, e)| (from, end, e, true)));
    for (from, to, opened, is_partition) in closed {
        let (x, w) = (frame.x(from), (frame.x(to) - frame.x(from)).max(2.0));
        let (class, targets, title) = if is_partition {
            let (a, b) = (text(opened, "a"), text(opened, "b"));
            (
                "partition",
                vec![a.to_owned(), b.to_owned()],
                format!("partition {a} ↔ {b} ({})", text(opened, "direction")),
            )
        } else {
            let targets: Vec<String> = opened
                .fields
                .get("targets")
                .and_then(Value::as_array)
                .map(|t| t.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            let title = format!("{} on {}", text(opened, "scope"), targets.join(", "));
            ("fault-window", targets, title)
        };
        for target in targets {
            let Some(top) = frame.lane_top(lane_of(&target)) else { continue };
            let _ = writeln!(
                out,
                "<rect class=\"{class}\" data-service=\"{}\" x=\"{x:.1}\" y=\"{top}\" width=\"{w:.1}\" height=\"{}\"><title>{}</title></rect>",
                escape(lane_of(&target)),
                LANE_H - 6.0,
                escape(&title)
            );
        }
    }
}

/// The event a monitor verdict names (`violated at event #N`), when it is in this slice.
fn monitor_event(item: &ItemResult) -> Option<u64> {
    let message = item.message.as_deref()?;
    let rest = message.strip_prefix("monitor `")?;
    let at = rest.find("violated at event #")? + "violated at event #".len();
    rest[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
}

/// Steps, fired faults, assertions, monitor verdicts and exits.
fn draw_marks(out: &mut String, frame: &Frame, item: &ItemResult, slice: &[Event]) {
    let Some(driver) = frame.y(DRIVER) else { return };
    let mut sent: BTreeMap<&str, VecDeque<f64>> = BTreeMap::new();
    let monitor = monitor_event(item);
    let mut drawn = 0;
    for event in slice {
        if drawn >= MARK_LIMIT {
            break;
        }
        let x = frame.x(event.at_ms);
        let lane_y = frame.y(&event.service);
        match event.kind.as_str() {
            "step_send" => sent.entry(text(event, "target")).or_default().push_back(event.at_ms),
            "step" => {
                let target = text(event, "target");
                let Some(to) = frame.y(target) else { continue };
                let from_x = sent.get_mut(target).and_then(VecDeque::pop_front).map_or(x, |at| frame.x(at));
                let status = event.fields.get("status").and_then(Value::as_u64);
                let ok = event.fields.get("ok").and_then(Value::as_bool).unwrap_or(true);
                let bad = !ok || status.is_some_and(|s| s >= 500);
                let (class, head) =
                    if bad { ("arrow step bad", "arrow-head-bad") } else { ("arrow step", "arrow-head") };
                let label = format!(
                    "{} {}{} → {}",
                    text(event, "method"),
                    target,
                    text(event, "path"),
                    status.map_or_else(|| text(event, "error").to_owned(), |s| s.to_string())
                );
                let _ = writeln!(
                    out,
                    "<line class=\"{class}\" data-target=\"{}\" x1=\"{from_x:.1}\" y1=\"{driver}\" x2=\"{x:.1}\" y2=\"{}\" marker-end=\"url(#{head})\"><title>{}</title></line>",
                    escape(target),
                    if to > driver { to - 6.0 } else { to + 6.0 },
                    escape(&label)
                );
            }
            "proxy" | "syscall" => {
                let decision = if event.kind == "proxy" { text(event, "action") } else { text(event, "decision") };
                let Some(y) = lane_y else { continue };
                if decision.is_empty() || matches!(decision, "allow" | "pass" | "trace") {
                    continue;
                }
                let title =
                    format!("{} {decision} {}", event.kind, text(event, "syscall").to_owned() + text(event, "path"));
                let _ = writeln!(
                    out,
                    "<path class=\"fired\" data-service=\"{}\" d=\"M{:.1},{:.1}l8,8m0,-8l-8,8\"><title>{}</title></path>",
                    escape(&event.service),
                    x - 4.0,
                    y - 4.0,
                    escape(&title)
                );
            }
            "assertion" => {
                let held = event.fields.get("ok").and_then(Value::as_bool).unwrap_or(false);
                let message = text(event, "message");
                draw_verdict(out, x, driver, held, if held { "assertion held" } else { message });
            }
            "service_exited" | "service_failed" => {
                let Some(y) = lane_y else { continue };
                let _ = writeln!(
                    out,
                    "<rect class=\"exit\" x=\"{:.1}\" y=\"{}\" width=\"3\" height=\"14\"><title>{}</title></rect>",
                    x - 1.5,
                    y - 7.0,
                    escape(&event.kind)
                );
            }
            _ => {}
        }
        if monitor == Some(event.seq) {
            let message = item.message.as_deref().unwrap_or_default();
            draw_verdict(out, x, lane_y.unwrap_or(driver), false, message);
        }
        drawn += 1;
    }
}

fn draw_verdict(out: &mut String, x: f64, y: f64, held: bool, title: &str) {
    if held {
        let _ = writeln!(
            out,
            "<circle class=\"verdict-mark held\" cx=\"{x:.1}\" cy=\"{}\" r=\"3.5\"><title>{}</title></circle>",
            y - 10.0,
            escape(title)
        );
    } else {
        let _ = writeln!(
            out,
            "<path class=\"verdict-mark broken\" d=\"M{x:.1},{:.1}l6,6l-6,6l-6,-6z\"><title>{}</title></path>",
            y - 16.0,
            escape(title)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::Outcome;

    fn event(seq: u64, at_ms: f64, service: &str, kind: &str, fields: Value) -> Event {
        let fields = fields.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Event { seq, at_ms, service: service.into(), kind: kind.into(), fields }
    }

    #[test]
    fn a_timeline_draws_lanes_arrows_windows_fired_faults_and_verdicts() {
        let slice = [
            event(0, 0.0, "", "fault_applied", serde_json::json!({"scope": "fault()", "targets": ["db.pg"]})),
            event(1, 1.0, "test", "step_send", serde_json::json!({"target": "api"})),
            event(2, 2.0, "db", "proxy", serde_json::json!({"action": "error"})),
            event(
                3,
                3.0,
                "test",
                "step",
                serde_json::json!({"target": "api", "status": 503, "ok": true, "method": "get"}),
            ),
            event(4, 4.0, "", "fault_removed", serde_json::json!({"scope": "fault()"})),
            event(5, 5.0, "", "partition_applied", serde_json::json!({"a": "api", "b": "db", "direction": "both"})),
            event(6, 6.0, "test", "assertion", serde_json::json!({"ok": false, "message": "503 != 200"})),
        ];
        let mut item = ItemResult::sample("test_x", Outcome::Failed);
        item.message = Some("monitor `m` violated at event #3".into());
        let svg = svg(&item, &slice, &["api".into(), "db".into()]);
        assert_eq!(svg.matches("class=\"lane\"").count(), 3, "driver, api, db");
        assert_eq!(svg.matches("class=\"arrow step bad\"").count(), 1);
        assert_eq!(svg.matches("class=\"fault-window\" data-service=\"db\"").count(), 1);
        assert_eq!(svg.matches("class=\"partition\"").count(), 2, "both sides of the partition");
        assert_eq!(svg.matches("class=\"fired\"").count(), 1);
        assert_eq!(svg.matches("verdict-mark broken").count(), 2, "the assertion and the monitor");
    }
}
