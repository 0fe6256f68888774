//! The generated reference `docs/topology-builtins.md`: a pure function from the catalog to
//! Markdown, so the document can never drift from the data the checker binds calls through
//! (a test in `schema/tests/` regenerates it and fails when the committed file differs).

use std::fmt::Write;

use super::{catalog, Builtin, CallContext, Catalog, Param, ParamKind};

/// The Markdown reference of the embedded catalog.
pub fn reference_markdown() -> String {
    render(catalog())
}

fn render(catalog: &Catalog) -> String {
    let mut out = String::new();
    out.push_str(
        "<!-- Generated from schema/topology/catalog.json by `ospecc_schema::topology::reference_markdown`. \
         Do not edit: run `OSPECC_BLESS=1 cargo test -p ospecc-schema` to regenerate. -->\n\n",
    );
    out.push_str("# Topology builtins (Faultbox dialect)\n\n");
    out.push_str(
        "Every builtin a topology file (`*.star`) may call, the values they produce, the step methods of each \
         protocol and the closed vocabularies of string arguments. `ospecc check` binds every call through this \
         catalog.\n\n",
    );
    out.push_str(
        "Notation: `name: type` is a parameter; parameters before `/` are positional only, after `*` keyword only; \
         `*name` takes any number of positional values and `**name` any keyword. Types are written `list[T]`, \
         `dict[K,V]`, `tuple[A,B]`, alternatives `A|B`. *Where*: `top level` (module level, registers topology \
         or tests), `test body` (inside a test, scenario, expectation or monitor function), `anywhere`. *Tier*: \
         `C` core, `A` advanced.\n\n",
    );
    let _ = writeln!(
        out,
        "{} builtins, {} value types, {} protocols, {} vocabularies.\n",
        catalog.builtins.len(),
        catalog.types.len(),
        catalog.protocols.len(),
        catalog.vocabularies.len()
    );

    out.push_str("## Contents\n\n");
    for group in groups(catalog) {
        let names: Vec<String> = catalog
            .builtins
            .iter()
            .filter(|b| b.group == group)
            .map(|b| format!("[`{}`](#{})", b.name, anchor(&b.name)))
            .collect();
        let _ = writeln!(out, "- **{}**: {}", group, names.join(", "));
    }
    out.push_str("- [Value types](#value-types), [Protocols and step methods](#protocols-and-step-methods), ");
    out.push_str("[Vocabularies](#vocabularies)\n\n");

    out.push_str("## Builtins\n\n");
    for group in groups(catalog) {
        let _ = writeln!(out, "### {}\n", capitalize(group));
        for builtin in catalog.builtins.iter().filter(|b| b.group == group) {
            builtin_section(&mut out, builtin);
        }
    }

    out.push_str("## Value types\n\n");
    out.push_str(&format!("Simple types (no entry below): {}.\n\n", code_list(super::SIMPLE_TYPES.iter().copied())));
    for ty in &catalog.types {
        let _ = writeln!(out, "### Type `{}`\n\n{}\n", ty.name, ty.doc);
        if !ty.attributes.is_empty() {
            out.push_str("| Attribute | Type | Description |\n|---|---|---|\n");
            for attribute in &ty.attributes {
                let _ = writeln!(out, "| `.{}` | `{}` | {} |", attribute.name, attribute.ty, cell(&attribute.doc));
            }
            out.push('\n');
        }
    }

    out.push_str("## Protocols and step methods\n\n");
    out.push_str(
        "Step methods are called on an interface, `svc.iface.method(kw=...)`; all their arguments are keywords. \
         *Proxy*: protocol rules (`response`, `error`, `delay`, `drop`, `duplicate`) can target the interface; a \
         matcher the proxy does not consult does not narrow a rule, and an action it does not implement does \
         nothing. *Run mock*, *Run steps*: `ospecc run` serves a `mock_service` interface of it, and runs its \
         step methods (elsewhere `ospecc check` warns that the run cannot).\n\n",
    );
    out.push_str(
        "| Protocol | Step methods | Mock | Proxy | TLS proxy | Matchers consulted | Actions | Run mock | Run steps |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for protocol in &catalog.protocols {
        let _ = writeln!(
            out,
            "| [`{}`](#protocol-{}) | {} | {} | {} | {} | {} | {} | {} | {} |",
            protocol.name,
            anchor(&protocol.name),
            if protocol.methods.is_empty() { "none".to_string() } else { protocol.methods.len().to_string() },
            yes_no(protocol.mock_capable),
            yes_no(protocol.proxy),
            yes_no(protocol.tls_proxy),
            or_dash(code_list(protocol.matchers.iter().map(String::as_str))),
            or_dash(code_list(protocol.actions.iter().map(String::as_str))),
            yes_no(protocol.mock_served),
            yes_no(protocol.steps_run),
        );
    }
    out.push('\n');
    for protocol in &catalog.protocols {
        let _ = writeln!(out, "### Protocol `{}`\n\n{}\n", protocol.name, protocol.doc);
        if protocol.ignores_unknown_keywords && !protocol.methods.is_empty() {
            out.push_str(IGNORED_KEYWORDS);
        }
        for method in &protocol.methods {
            let _ = writeln!(out, "#### `{}.{}`\n", protocol.name, method.name);
            let _ = writeln!(out, "```\n{}\n```\n", signature(&method.name, &method.params, &method.returns));
            if !method.doc.is_empty() {
                let _ = writeln!(out, "{}\n", method.doc);
            }
            param_table(&mut out, &method.params);
        }
    }

    out.push_str("## Vocabularies\n\n");
    out.push_str(
        "Parameters name the vocabulary their string values must belong to. A vocabulary with a pattern accepts \
         any string matching it.\n\n",
    );
    for vocabulary in &catalog.vocabularies {
        let _ = writeln!(out, "### Vocabulary `{}`\n\n{}\n", vocabulary.name, vocabulary.doc);
        if vocabulary.case_insensitive {
            out.push_str("Case-insensitive.\n\n");
        }
        if let Some(pattern) = &vocabulary.pattern {
            let _ = writeln!(out, "Pattern: `{pattern}`\n");
        }
        let detailed = vocabulary.values.iter().any(|v| !v.doc.is_empty() || !v.members.is_empty());
        if detailed {
            let members = vocabulary.values.iter().any(|v| !v.members.is_empty());
            if members {
                out.push_str("| Value | Members | Description |\n|---|---|---|\n");
            } else {
                out.push_str("| Value | Description |\n|---|---|\n");
            }
            for value in &vocabulary.values {
                if members {
                    let list = code_list(value.members.iter().map(String::as_str));
                    let _ = writeln!(out, "| `{}` | {} | {} |", value.value, list, cell(&value.doc));
                } else {
                    let _ = writeln!(out, "| `{}` | {} |", value.value, cell(&value.doc));
                }
            }
            out.push('\n');
        } else if !vocabulary.values.is_empty() {
            let _ = writeln!(out, "Values: {}.\n", code_list(vocabulary.values.iter().map(|v| v.value.as_str())));
        }
    }
    // One trailing newline: the file ends like every other text file in the repository.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The note on callees whose unknown keywords Faultbox drops.
const IGNORED_KEYWORDS: &str =
    "Faultbox ignores keywords it does not know here: ospecc warns about them (TOP040) instead of failing.\n\n";

fn builtin_section(out: &mut String, builtin: &Builtin) {
    let _ = writeln!(out, "#### `{}`\n", builtin.name);
    let _ = writeln!(out, "```\n{}\n```\n", signature(&builtin.name, &builtin.params, &builtin.returns));
    if let Some(removed) = &builtin.removed {
        let _ = writeln!(out, "**Not callable**: {removed}.\n");
    }
    let _ = writeln!(out, "{}\n", builtin.doc);
    let context = match builtin.context {
        CallContext::TopLevel => "top level",
        CallContext::TestBody => "test body",
        CallContext::Anywhere => "anywhere",
    };
    let tier = if builtin.tier.is_empty() { "-" } else { builtin.tier.as_str() };
    let _ = writeln!(out, "*Where*: {context}. *Tier*: {tier}. *Returns*: `{}`.\n", builtin.returns);
    for note in &builtin.notes {
        let _ = writeln!(out, "{note}\n");
    }
    if builtin.ignores_unknown_keywords {
        out.push_str(IGNORED_KEYWORDS);
    }
    if builtin.removed.is_none() {
        param_table(out, &builtin.params);
    }
}

fn param_table(out: &mut String, params: &[Param]) {
    if params.is_empty() {
        return;
    }
    out.push_str("| Parameter | Kind | Type | Required | Default | Vocabulary | Description |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for param in params {
        let kind = match param.kind {
            ParamKind::Positional => "positional",
            ParamKind::PositionalOrKeyword => "positional or keyword",
            ParamKind::KeywordOnly => "keyword",
            ParamKind::Variadic => "`*` variadic",
            ParamKind::KeywordVariadic => "`**` keywords",
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | `{}` | {} | {} | {} | {} |",
            param.name,
            kind,
            cell(&param.ty),
            if param.required { "yes" } else { "" },
            param.default.as_deref().map(|d| format!("`{d}`")).unwrap_or_default(),
            param.vocabulary.as_deref().map(|v| format!("[`{v}`](#vocabulary-{})", anchor(v))).unwrap_or_default(),
            cell(&with_aliases(param)),
        );
    }
    out.push('\n');
}

/// A parameter's description, with the keywords Faultbox drops that are meant for it.
fn with_aliases(param: &Param) -> String {
    if param.ignored_aliases.is_empty() {
        return param.doc.clone();
    }
    let aliases = code_list(param.ignored_aliases.iter().map(String::as_str));
    format!("{} Faultbox ignores {aliases} written for it.", param.doc)
}

/// A Python-style signature: `name(a: str, /, *rest: T, key: T = default, **kw: T) -> R`.
fn signature(name: &str, params: &[Param], returns: &str) -> String {
    let mut parts = Vec::new();
    let positional_only = params.iter().filter(|p| p.kind == ParamKind::Positional).count();
    let mut seen_star = false;
    for (i, param) in params.iter().enumerate() {
        match param.kind {
            ParamKind::Variadic => {
                seen_star = true;
                parts.push(format!("*{}: {}", param.name, param.ty));
            }
            ParamKind::KeywordVariadic => parts.push(format!("**{}: {}", param.name, param.ty)),
            ParamKind::KeywordOnly if !seen_star => {
                seen_star = true;
                parts.push("*".to_string());
                parts.push(plain(param));
            }
            _ => parts.push(plain(param)),
        }
        // The `/` marker goes right after the last positional-only parameter, when more follow.
        if positional_only > 0 && i + 1 == positional_only && i + 1 < params.len() {
            parts.push("/".to_string());
        }
    }
    format!("{name}({}) -> {returns}", parts.join(", "))
}

fn plain(param: &Param) -> String {
    match (&param.default, param.required) {
        (Some(default), _) => format!("{}: {} = {default}", param.name, param.ty),
        (None, false) => format!("{}: {} = ?", param.name, param.ty),
        (None, true) => format!("{}: {}", param.name, param.ty),
    }
}

fn groups(catalog: &Catalog) -> Vec<&str> {
    let mut groups: Vec<&str> = Vec::new();
    for builtin in &catalog.builtins {
        if !groups.contains(&builtin.group.as_str()) {
            groups.push(&builtin.group);
        }
    }
    groups
}

/// GitHub's heading anchor for a code-only heading such as `` `match.event` ``.
fn anchor(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric() || *c == '_' || *c == '-').collect::<String>().to_lowercase()
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn code_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.map(|item| format!("`{item}`")).collect::<Vec<_>>().join(", ")
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "-".to_string()
    } else {
        text
    }
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        ""
    }
}

/// Table cells cannot hold a raw `|` (type alternatives) or a newline.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
