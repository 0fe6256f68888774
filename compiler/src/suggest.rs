//! Did-you-mean: the closest known name to a misspelt one.

/// The candidate closest to `name`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let name_lower = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::damerau_levenshtein(&name_lower, &c.to_ascii_lowercase()), c))
        .filter(|&(distance, c)| distance <= threshold(name.len().max(c.len())))
        .min_by_key(|&(distance, c)| (distance, c))
        .map(|(_, c)| c)
}

/// Allowed edits grow with length: 1 for short names, about a third for long ones.
fn threshold(len: usize) -> usize {
    match len {
        0..=3 => 1,
        4..=8 => 2,
        _ => len / 3,
    }
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn finds_close_names_only() {
        let known = ["auth_service", "user_service", "product_service"];
        assert_eq!(did_you_mean("auth_servce", known), Some("auth_service"));
        assert_eq!(did_you_mean("AUTH_SERVICE", known), Some("auth_service"));
        assert_eq!(did_you_mean("billing", known), None);
        assert_eq!(did_you_mean("expected_stauts", ["expected_status", "endpoint"]), Some("expected_status"));
    }
}
