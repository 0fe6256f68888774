//! Did-you-mean: the closest known name to a misspelt one.

/// The candidate closest to `name`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    // Edit distance is quadratic: a name no one would type by hand (a 3 MB identifier) gets no
    // suggestion, and a candidate whose length alone rules it out is not measured.
    if name.len() > MAX_NAME {
        return None;
    }
    let name_lower = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != name && c.len() <= MAX_NAME)
        .filter(|c| name.len().abs_diff(c.len()) <= threshold(name.len().max(c.len())))
        .map(|c| (strsim::damerau_levenshtein(&name_lower, &c.to_ascii_lowercase()), c))
        .filter(|&(distance, c)| distance <= threshold(name.len().max(c.len())))
        .min_by_key(|&(distance, c)| (distance, c))
        .map(|(_, c)| c)
}

/// Names longer than this are not typos of anything.
const MAX_NAME: usize = 256;

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

    #[test]
    fn a_huge_name_is_not_measured() {
        let huge = "a".repeat(3_000_000);
        let started = std::time::Instant::now();
        assert_eq!(did_you_mean(&huge, ["aaaa", "auth_service"]), None);
        // A hang guard, not a speed test: measuring it would take minutes.
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }
}
