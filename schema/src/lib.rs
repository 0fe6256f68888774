//! The contracts of ospecc, as data.
//!
//! Everything here is embedded text: the OSpec JSON Schemas (`ospec/core.schema.json`, the
//! published v1.0 rules; `ospec/ext.schema.json`, core plus the typed extensions real documents
//! use). Code in `ospecc-compiler` interprets them; nothing here is logic.

pub mod plan;
pub mod stdlib;
pub mod topology;

/// The OSpec schema profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// Exactly the published OSpec v1.0 rules.
    Core,
    /// Core plus typed extensions, descriptive families, `topology:` and `x-*` (the default).
    #[default]
    Ext,
}

impl Profile {
    /// The profile's name as users write it (`--profile core|ext`).
    pub fn name(self) -> &'static str {
        match self {
            Profile::Core => "core",
            Profile::Ext => "ext",
        }
    }

    /// Parses a profile name.
    pub fn from_name(name: &str) -> Option<Profile> {
        match name {
            "core" => Some(Profile::Core),
            "ext" => Some(Profile::Ext),
            _ => None,
        }
    }
}

/// The JSON Schema text of an OSpec profile.
pub fn ospec_schema(profile: Profile) -> &'static str {
    match profile {
        Profile::Core => include_str!("../ospec/core.schema.json"),
        Profile::Ext => include_str!("../ospec/ext.schema.json"),
    }
}
