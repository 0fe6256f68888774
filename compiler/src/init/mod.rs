//! `ospecc init`: a starter spec from a Compose file or from one binary.
//!
//! [`from_compose`] reads a Compose file with the project's YAML front end ([`compose`]) into
//! a [`Project`]: services in start order, interfaces with protocols detected from images and
//! well-known ports ([`protocols`]), environment values whose `host:port` names another
//! service turned into address references, healthchecks. [`from_binary`] makes the same model
//! for one local executable. [`render`] writes the model as a topology file with a happy-path
//! test per public interface, and an OSpec file naming it. Like the rest of the compiler this
//! does no IO: text comes in, files go out as data, and the CLI decides where they land.

pub mod compose;
mod names;
pub mod protocols;
mod render;

use crate::diagnostics::{Diagnostic, Severity};

pub use names::is_reserved as is_reserved_name;
pub use render::string as starlark_string;

/// One file `init` produces: a name relative to the output directory and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    pub name: String,
    pub text: String,
}

/// What `init` made, or why it could not (then `files` is empty and a diagnostic is an error).
#[derive(Clone, Debug, Default)]
pub struct Generated {
    pub files: Vec<GeneratedFile>,
    /// Findings about the input (the Compose file's text): located, with codes.
    pub diagnostics: Vec<Diagnostic>,
}

impl Generated {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }
}

/// A Compose file to start from.
pub struct ComposeInput<'a> {
    pub text: &'a str,
    /// The Compose file's name as the user gave it (for the generated header).
    pub file_name: &'a str,
    /// The project name when the file has no `name:` (the CLI passes its directory's name).
    pub default_name: &'a str,
    /// Profiles to enable (`--profile`): services with other profiles are left out.
    pub profiles: &'a [String],
    /// The Compose file's directory as seen from the output directory (`""` when they are
    /// the same), prefixed to relative build contexts.
    pub base: &'a str,
    /// Overrides the name of the generated files and the spec's id.
    pub spec_name: Option<&'a str>,
}

/// One local executable to start from.
pub struct BinaryInput<'a> {
    pub name: &'a str,
    pub port: u16,
    pub protocol: &'a str,
    /// The executable's path, as the topology file will name it (relative to its directory).
    pub binary: &'a str,
}

/// The model both inputs become.
#[derive(Clone, Debug, Default)]
pub(crate) struct Project {
    /// The generated files' stem and the OSpec id (`[a-z][a-z0-9-]*`).
    pub id: String,
    /// What it was made from, for the header comment (`init --from-compose compose.yaml`).
    pub origin: String,
    /// Services in start order: every service comes after those it depends on or references.
    pub services: Vec<Service>,
    /// Services left out, with why (a profile that is not enabled).
    pub skipped: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Service {
    /// The name as written in the source (the service's name in the spec).
    pub name: String,
    /// The Starlark variable bound to it.
    pub var: String,
    pub launch: Launch,
    pub interfaces: Vec<Interface>,
    pub env: Vec<EnvVar>,
    pub args: Vec<String>,
    /// Published ports `(host, container)` (`ports=`), where the source fixes the host port.
    pub ports: Vec<(u16, u16)>,
    /// Names of the services this one starts after.
    pub depends_on: Vec<String>,
    pub healthcheck: Option<Healthcheck>,
    /// Remarks written above the declaration (what could not be carried over).
    pub comments: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Launch {
    Image(String),
    Build(String),
    Binary(String),
}

impl Default for Launch {
    fn default() -> Launch {
        Launch::Binary(String::new())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Interface {
    pub name: String,
    pub protocol: String,
    pub port: u16,
    /// Published (Compose `ports:`, or the one interface of a binary): it gets a test.
    pub public: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EnvVar {
    pub name: String,
    pub parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Text(String),
    /// `service.interface.attribute` (`addr` or `host`), by service name.
    Ref {
        service: String,
        interface: String,
        attribute: &'static str,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Healthcheck {
    pub kind: Health,
    /// A duration (`"60s"`), when the source says how long to wait.
    pub timeout: Option<String>,
    /// The source's own check, kept as a comment when it was translated loosely.
    pub original: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Health {
    Tcp { port: u16 },
    Http { port: u16, path: String },
    Ready,
}

/// A starter spec from a Compose file: its services, a happy-path test per published
/// interface, and an OSpec file naming the topology. Invalid YAML or a document that is not
/// Compose gives located diagnostics and no files.
pub fn from_compose(input: &ComposeInput) -> Generated {
    let (project, mut diagnostics) = compose::read(input);
    crate::diagnostics::sort(&mut diagnostics);
    let mut generated = Generated { files: Vec::new(), diagnostics };
    if let Some(project) = project.filter(|_| !generated.has_errors()) {
        generated.files = render::files(&project);
    }
    generated
}

/// A starter spec for one executable serving `protocol` on `port`.
pub fn from_binary(input: &BinaryInput) -> Result<Generated, String> {
    if !protocols::is_known(input.protocol) {
        let known: Vec<&str> = ospecc_schema::topology::catalog().protocols.iter().map(|p| p.name.as_str()).collect();
        return Err(format!("unknown protocol `{}` (one of: {})", input.protocol, known.join(", ")));
    }
    if input.port == 0 {
        return Err("--port must be from 1 to 65535".to_owned());
    }
    let id = names::spec_id(input.name).ok_or_else(|| format!("`{}` has no letter to make a name of", input.name))?;
    let var = names::Variables::default().claim(input.name);
    let interface = Interface {
        name: protocols::interface_name(input.protocol).to_owned(),
        protocol: input.protocol.to_owned(),
        port: input.port,
        public: true,
    };
    let healthcheck = Healthcheck { kind: default_health(&interface, true), timeout: None, original: None };
    let service = Service {
        name: input.name.to_owned(),
        var,
        launch: Launch::Binary(input.binary.to_owned()),
        env: vec![EnvVar { name: "PORT".into(), parts: vec![Part::Text(input.port.to_string())] }],
        interfaces: vec![interface],
        ports: vec![(input.port, input.port)],
        healthcheck: Some(healthcheck),
        ..Service::default()
    };
    let project = Project {
        id,
        origin: format!(
            "init --name {} --port {} --protocol {} {}",
            input.name, input.port, input.protocol, input.binary
        ),
        services: vec![service],
        skipped: Vec::new(),
    };
    Ok(Generated { files: render::files(&project), diagnostics: Vec::new() })
}

/// How a service is waited for when its source says nothing: the protocol's own check for
/// a lone interface of a protocol that has one, else a TCP connect.
pub(crate) fn default_health(interface: &Interface, alone: bool) -> Health {
    if alone && protocols::has_ready(&interface.protocol) {
        Health::Ready
    } else {
        Health::Tcp { port: interface.port }
    }
}

#[cfg(test)]
mod tests;
