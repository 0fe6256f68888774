//! `determinism()` (reference §1.11, §8.1 item 10). TOP061: called more than once — it
//! configures the whole spec and Faultbox rejects a second call, also from a loaded file.
//! TOP062: `strict=` at level L0, which Faultbox rejects (L0 detects nothing to be strict
//! about). Its being keyword-only is the signature check's (TOP042).

use crate::diagnostics::Diagnostic;
use crate::topology::checks::{Model, Origin};
use ospecc_schema::topology::builtins;

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    if model.part.load_time() {
        once(model, out);
    }
    for call in model.calls_of(builtins::DETERMINISM) {
        let level = call.record.named("level").and_then(|l| l.as_str()).unwrap_or("L1");
        if level == "L0" && call.record.named("strict").is_some() {
            out.push(
                Diagnostic::error(
                    "TOP062",
                    model.keyword_span(call, "strict"),
                    "`determinism(strict=…)` is not allowed at level `L0`",
                )
                .with_label(model.value_span(call, "level"), "level L0 detects no unmediated I/O")
                .with_help(
                    "remove `strict=`, or use `level=\"L1\"` to detect (and with `strict=True` fail on) unmediated I/O",
                ),
            );
        }
    }
}

/// Every call that ran (root and loaded files, in evaluation order) counts; later ones in the
/// root file are reported.
fn once(model: &Model, out: &mut Vec<Diagnostic>) {
    let ran: Vec<_> = model.evaluated.calls.iter().filter(|c| c.builtin == builtins::DETERMINISM).collect();
    let Some(first) = ran.first() else { return };
    let root = &model.evaluated.root;
    for call in model.calls_of(builtins::DETERMINISM).filter(|c| c.origin == Origin::Load) {
        if std::sync::Arc::ptr_eq(&call.record, first) {
            continue;
        }
        let d = Diagnostic::error("TOP061", model.callee_span(call), "`determinism()` is called more than once")
            .with_help("call `determinism(…)` once, at the top of the spec; merge the settings into that call");
        out.push(if first.file == *root {
            d.with_label(first.span, "first called here")
        } else {
            d.with_note(format!("it is first called in `{}`", first.file))
        });
    }
}
