//! Call shapes against the catalog (reference §8.1 items 1–2): positional arity, keyword
//! names (with did-you-mean), required parameters; for builtins and step methods alike.

use ospecc_schema::topology::{catalog, ParamKind};

use super::{Call, Model, Target};
use crate::diagnostics::Diagnostic;
use crate::suggest::did_you_mean;

pub(super) fn check(model: &Model, out: &mut Vec<Diagnostic>) {
    for call in model.calls() {
        if !model.has_splat(call) {
            shape(model, call, out);
        }
    }
}

fn shape(model: &Model, call: &Call, out: &mut Vec<Diagnostic>) {
    if let Some(why) = call.builtin().and_then(|b| b.removed.as_deref()) {
        out.push(
            Diagnostic::warning(
                "TOP053",
                model.callee_span(call),
                format!("`{}` is not available in Faultbox", call.display_name()),
            )
            .with_help(format!("{why}; Faultbox fails when this line runs")),
        );
    }
    let params = call.params();
    let name = call.display_name();
    let positional = call.record.positional.len();
    let slots: Vec<&str> = params
        .iter()
        .filter(|p| matches!(p.kind, ParamKind::Positional | ParamKind::PositionalOrKeyword))
        .map(|p| p.name.as_str())
        .collect();
    let variadic = params.iter().any(|p| p.kind == ParamKind::Variadic);
    let any_keyword = params.iter().any(|p| p.kind == ParamKind::KeywordVariadic);
    if positional > slots.len() && !variadic {
        let extra = model.positional_span(call, slots.len());
        out.push(
            Diagnostic::error(
                "TOP042",
                extra,
                format!(
                    "`{name}` takes at most {} positional argument{}, but {positional} were given",
                    slots.len(),
                    if slots.len() == 1 { "" } else { "s" },
                ),
            )
            .with_help(format!("pass the others by keyword; see the `{name}` signature in docs/topology-builtins.md")),
        );
    }
    let mut bound: Vec<&str> = slots.iter().take(positional).copied().collect();
    for (keyword, _) in &call.record.named {
        let param = params.iter().find(|p| p.name == *keyword);
        match param {
            Some(p) if matches!(p.kind, ParamKind::PositionalOrKeyword | ParamKind::KeywordOnly) => bound.push(keyword),
            _ if any_keyword && param.is_none() => {}
            _ => out.push(unknown_keyword(model, call, keyword)),
        }
    }
    for param in params.iter().filter(|p| p.required) {
        if !bound.contains(&param.name.as_str()) {
            out.push(
                Diagnostic::error(
                    "TOP041",
                    model.callee_span(call),
                    format!("`{name}` is missing its required argument `{}`", param.name),
                )
                .with_help(format!("add `{}` ({})", param.name, param.ty)),
            );
        }
    }
}

/// TOP040 for a keyword the callee does not have: an error where Faultbox rejects it, a warning
/// where Faultbox drops it silently (the catalog says which), with the rename when the catalog
/// or the spelling knows the intended parameter.
fn unknown_keyword(model: &Model, call: &Call, keyword: &str) -> Diagnostic {
    let name = call.display_name();
    let params = call.params();
    let at = model.site(call).and_then(|s| s.named.iter().find(|a| a.name == keyword)).map(|a| a.name_span);
    let at = at.unwrap_or(call.record.span);
    let alias = params.iter().find(|p| p.ignored_aliases.iter().any(|a| a == keyword)).map(|p| p.name.as_str());
    let keywords = params.iter().filter(|p| matches!(p.kind, ParamKind::PositionalOrKeyword | ParamKind::KeywordOnly));
    let best = alias.or_else(|| did_you_mean(keyword, keywords.map(|p| p.name.as_str())));
    let d = if ignores_unknown_keywords(call) {
        Diagnostic::warning("TOP040", at, format!("`{name}` has no keyword parameter `{keyword}`: Faultbox ignores it"))
    } else {
        Diagnostic::error("TOP040", at, format!("`{name}` has no keyword parameter `{keyword}`"))
    };
    match best {
        Some(best) if alias.is_some() => d
            .with_help(format!("Faultbox's parameter is `{best}=`; `{keyword}=` is dropped without a word"))
            .with_replacement(format!("rename to `{best}`"), at, best),
        Some(best) => {
            d.with_help(format!("did you mean `{best}`?")).with_replacement(format!("rename to `{best}`"), at, best)
        }
        None => d.with_help(format!("remove `{keyword}=`; docs/topology-builtins.md lists the parameters of `{name}`")),
    }
}

/// Whether Faultbox drops unknown keywords of this callee instead of failing.
fn ignores_unknown_keywords(call: &Call) -> bool {
    match &call.target {
        Target::Builtin(b) => b.ignores_unknown_keywords,
        Target::Step { method, .. } => catalog()
            .protocols
            .iter()
            .find(|p| p.methods.iter().any(|m| std::ptr::eq(m, *method)))
            .is_some_and(|p| p.ignores_unknown_keywords),
    }
}
