//! Percent-encoding as both signatures canonicalise: every byte but the unreserved
//! characters of RFC 3986 (`A-Z a-z 0-9 - _ . ~`) as `%XX`, uppercase.

pub fn percent(text: &str) -> String {
    urlencoding::encode(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreserved_characters_stay() {
        assert_eq!(percent("a b*c~d/e+f=g&h"), "a%20b%2Ac~d%2Fe%2Bf%3Dg%26h");
        assert_eq!(percent("é"), "%C3%A9");
    }
}
