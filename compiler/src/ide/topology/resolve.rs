//! What a name in a topology file stands for: a catalog builtin, a step method of a service's
//! interface (`db.pg.query`), a service variable or one of its interfaces, or a `def` of the
//! file. Completion, hover and signature help all ask this one place, and the catalog is the
//! only source of builtin signatures and docs.

use ospecc_schema::topology::{catalog, Param, ParamKind};

use super::index::{Index, Service};
use super::modules::{self, Export};

/// Something callable, with its parameters as the catalog (or the `def`) gives them.
pub struct Callable<'a> {
    pub name: String,
    pub doc: String,
    pub returns: String,
    pub params: Vec<ParamView<'a>>,
    pub notes: &'a [String],
}

/// One parameter, from the catalog or a `def`.
pub struct ParamView<'a> {
    pub name: String,
    pub kind: ParamKind,
    pub ty: &'a str,
    pub default: Option<&'a str>,
    pub doc: &'a str,
    pub vocabulary: Option<&'a str>,
    pub required: bool,
}

impl<'a> ParamView<'a> {
    fn of(param: &'a Param) -> ParamView<'a> {
        ParamView {
            name: param.name.clone(),
            kind: param.kind,
            ty: &param.ty,
            default: param.default.as_deref(),
            doc: &param.doc,
            vocabulary: param.vocabulary.as_deref(),
            required: param.required,
        }
    }

    /// `name: type = default`, `*name`, `**name`.
    pub fn label(&self) -> String {
        let star = match self.kind {
            ParamKind::Variadic => "*",
            ParamKind::KeywordVariadic => "**",
            _ => "",
        };
        let ty = if self.ty.is_empty() { String::new() } else { format!(": {}", self.ty) };
        let default = self.default.map(|d| format!(" = {d}")).unwrap_or_default();
        format!("{star}{}{ty}{default}", self.name)
    }

    /// Whether the parameter can be given as `name=`.
    pub fn by_keyword(&self) -> bool {
        matches!(self.kind, ParamKind::PositionalOrKeyword | ParamKind::KeywordOnly)
    }
}

impl Callable<'_> {
    /// `name(a: str, *, b: int = 1) -> service`, with each parameter's range in the label.
    pub fn signature(&self) -> (String, Vec<(usize, usize)>) {
        let mut label = format!("{}(", self.name);
        let mut ranges = Vec::new();
        let mut keyword_marker = false;
        for (i, param) in self.params.iter().enumerate() {
            if i > 0 {
                label.push_str(", ");
            }
            if param.kind == ParamKind::KeywordOnly
                && !keyword_marker
                && !self.params[..i].iter().any(|p| p.kind == ParamKind::Variadic)
            {
                label.push_str("*, ");
            }
            keyword_marker |= param.kind == ParamKind::KeywordOnly;
            let text = param.label();
            ranges.push((label.len(), label.len() + text.len()));
            label.push_str(&text);
        }
        label.push(')');
        if !self.returns.is_empty() && self.returns != "None" {
            label.push_str(&format!(" -> {}", self.returns));
        }
        (label, ranges)
    }

    /// The parameter an argument binds: keyword `name`, else positional number `n`.
    pub fn param_for(&self, keyword: Option<&str>, n: usize) -> Option<(usize, &ParamView<'_>)> {
        if let Some(name) = keyword {
            let named = self.params.iter().position(|p| p.name == name && p.by_keyword());
            let rest = self.params.iter().position(|p| p.kind == ParamKind::KeywordVariadic);
            return named.or(rest).map(|i| (i, &self.params[i]));
        }
        let positional: Vec<usize> = (0..self.params.len())
            .filter(|&i| {
                matches!(
                    self.params[i].kind,
                    ParamKind::Positional | ParamKind::PositionalOrKeyword | ParamKind::Variadic
                )
            })
            .collect();
        let i =
            positional.get(n).or_else(|| positional.last().filter(|&&i| self.params[i].kind == ParamKind::Variadic))?;
        Some((*i, &self.params[*i]))
    }

    /// Markdown: signature, doc, parameters, notes.
    pub fn markdown(&self) -> String {
        let mut out = format!("```python\n{}\n```\n\n{}", self.signature().0, self.doc);
        let params: Vec<String> =
            self.params.iter().filter(|p| !p.doc.is_empty()).map(|p| format!("- `{}`: {}", p.name, p.doc)).collect();
        if !params.is_empty() {
            out.push_str(&format!("\n\n{}", params.join("\n")));
        }
        for note in self.notes {
            out.push_str(&format!("\n\n{note}"));
        }
        out
    }
}

/// The callable a callee expression names.
pub fn callable<'a>(index: &'a Index, text: &str, callee: &str) -> Option<Callable<'a>> {
    if let Some(builtin) = catalog().builtin(callee) {
        let doc = match &builtin.removed {
            Some(why) => format!("{}\n\n**Removed:** {why}", builtin.doc),
            None => builtin.doc.clone(),
        };
        return Some(Callable {
            name: builtin.name.clone(),
            doc,
            returns: builtin.returns.clone(),
            params: builtin.params.iter().map(ParamView::of).collect(),
            notes: &builtin.notes,
        });
    }
    let parts: Vec<&str> = callee.split('.').collect();
    if let [local, member] = parts[..] {
        if let Some((load, api)) = modules::loaded_module(index, local) {
            return api.export(member).map(|export| module_export(local, &load.path, export));
        }
    }
    if let [service, interface, method] = parts[..] {
        let protocol = protocol_of(index, text, service, interface)?;
        let method = catalog().protocol(&protocol)?.methods.iter().find(|m| m.name == method)?;
        return Some(Callable {
            name: callee.to_string(),
            doc: method.doc.clone(),
            returns: method.returns.clone(),
            params: method.params.iter().map(ParamView::of).collect(),
            notes: &[],
        });
    }
    let def = index.defs.iter().rev().find(|d| d.name == callee)?;
    let params = def
        .params
        .iter()
        .map(|(name, _)| ParamView {
            name: name.clone(),
            kind: ParamKind::PositionalOrKeyword,
            ty: "",
            default: None,
            doc: "",
            vocabulary: None,
            required: false,
        })
        .collect();
    Some(Callable {
        name: def.name.clone(),
        doc: "A function of this file.".into(),
        returns: String::new(),
        params,
        notes: &[],
    })
}

/// A member of an embedded module's struct (`redis.oom`), from the module's `def`.
fn module_export(local: &str, path: &str, export: &'static Export) -> Callable<'static> {
    let params = export
        .params
        .iter()
        .map(|p| ParamView {
            name: p.name.clone(),
            kind: p.kind,
            ty: "",
            default: p.default.as_deref(),
            doc: "",
            vocabulary: None,
            required: p.default.is_none() && p.kind == ParamKind::PositionalOrKeyword,
        })
        .collect();
    Callable {
        name: format!("{local}.{}", export.name),
        doc: format!("{}\n\nfrom `{path}`", export.doc),
        returns: String::new(),
        params,
        notes: &[],
    }
}

/// The service a variable is bound to.
pub fn service_of(index: &Index, text: &str, variable: &str) -> Option<Service> {
    index.services(text).into_iter().rev().find(|s| s.variable.as_deref() == Some(variable))
}

/// The protocol of `variable.interface`.
pub fn protocol_of(index: &Index, text: &str, variable: &str, interface: &str) -> Option<String> {
    let service = service_of(index, text, variable)?;
    service.interfaces.into_iter().find(|(name, _, _)| name == interface).map(|(_, _, protocol)| protocol)
}

/// The builtins whose name starts with `namespace.` (`observe.stdout`, `match.event`).
pub fn namespaced(namespace: &str) -> impl Iterator<Item = &'static ospecc_schema::topology::Builtin> + '_ {
    catalog().builtins.iter().filter(move |b| b.name.strip_prefix(namespace).is_some_and(|rest| rest.starts_with('.')))
}

/// Whether `name` is a namespace of builtins (`observe`, `match`).
pub fn is_namespace(name: &str) -> bool {
    namespaced(name).next().is_some()
}
