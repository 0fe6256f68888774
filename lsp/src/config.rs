//! The server's own settings, from `initializationOptions` (the check options themselves come
//! from `ospecc.toml`, as for `ospecc check`).
//!
//! `{"debounceMs": 100, "maxFileBytes": 4194304}`; both optional. A value of the wrong type
//! or out of range is reported back (as a warning) and the default kept: a typo in an editor's
//! settings must not stop the server.

use std::time::Duration;

use serde_json::Value;

/// How long edits are coalesced before the semantic analysis runs.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(100);
/// Longer than this and the editor would seem hung; a larger value is surely a unit mistake.
const MAX_DEBOUNCE_MS: u64 = 10_000;
/// Documents larger than this are not analysed (a notice says so); the same bound the
/// topology evaluator puts on files it reads.
pub const DEFAULT_MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub debounce: Duration,
    pub max_file_bytes: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { debounce: DEFAULT_DEBOUNCE, max_file_bytes: DEFAULT_MAX_FILE_BYTES }
    }
}

impl Settings {
    /// The settings in `initializationOptions`, and a warning for each value not taken.
    pub fn from_options(options: Option<&Value>) -> (Settings, Vec<String>) {
        let mut settings = Settings::default();
        let mut warnings = Vec::new();
        let Some(Value::Object(map)) = options else {
            if options.is_some_and(|v| !v.is_null()) {
                warnings.push("initializationOptions should be an object; using the defaults".to_string());
            }
            return (settings, warnings);
        };
        if let Some(value) = map.get("debounceMs") {
            match value.as_u64().filter(|&ms| ms <= MAX_DEBOUNCE_MS) {
                Some(ms) => settings.debounce = Duration::from_millis(ms),
                None => {
                    warnings.push(format!("debounceMs must be an integer from 0 to {MAX_DEBOUNCE_MS}, not {value}"))
                }
            }
        }
        if let Some(value) = map.get("maxFileBytes") {
            match value.as_u64().and_then(|n| usize::try_from(n).ok()).filter(|&n| n > 0) {
                Some(bytes) => settings.max_file_bytes = bytes,
                None => warnings.push(format!("maxFileBytes must be a positive integer, not {value}")),
            }
        }
        (settings, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_are_read_and_bad_values_reported() {
        assert_eq!(Settings::from_options(None), (Settings::default(), vec![]));
        let (settings, warnings) = Settings::from_options(Some(&json!({"debounceMs": 0, "maxFileBytes": 10})));
        assert_eq!((settings.debounce, settings.max_file_bytes, warnings.len()), (Duration::ZERO, 10, 0));
        let (settings, warnings) = Settings::from_options(Some(&json!({"debounceMs": "fast", "maxFileBytes": -1})));
        assert_eq!(settings, Settings::default());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(Settings::from_options(Some(&json!([1]))).1.len(), 1);
    }
}
