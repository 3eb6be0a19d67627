//! Where a cloud input comes from or an output target goes: a provider's locator keys
//! (`parameters`) and secrets (`credentials`), read and checked once, into one `Location`.
//! Secrets live in `Secret`, whose `Debug` never shows them.

use serde_json::{Map, Value};

use crate::jobs::parse::{FieldError, refuse};
use crate::ports::UserCredentials;

/// A secret value: used, never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// A Google service account's key, as Folio uses it: the rest of the key file (and any
/// endpoint or switch it may carry) is ignored.
#[derive(Clone, Debug)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key_id: String,
    pub private_key: Secret,
}

#[derive(Clone, Debug)]
pub enum Location {
    AmazonS3 {
        bucket: String,
        key: String,
        credentials: UserCredentials,
    },
    GoogleCloud {
        project: String,
        bucket: String,
        object: String,
        account: ServiceAccount,
    },
    Azure {
        account: String,
        key: Secret,
        container: String,
        blob: String,
    },
    Ftp {
        host: String,
        port: u16,
        path: String,
        username: String,
        password: Secret,
    },
}

/// The providers, by the names the API gives them.
pub const PROVIDERS: [&str; 4] = ["amazons3", "googlecloud", "azure", "ftp"];

fn text<'a>(map: &'a Map<String, Value>, key: &str, field: &str) -> Result<&'a str, FieldError> {
    match map.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim()),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            Err(refuse(format!("{field}.{key}"), "is required"))
        }
        Some(_) => Err(refuse(format!("{field}.{key}"), "must be a string")),
    }
}

fn optional<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Names made of `allowed` characters, `min..=max` long.
fn name_like(
    value: &str,
    field: &str,
    min: usize,
    max: usize,
    allowed: impl Fn(char) -> bool,
    rule: &str,
) -> Result<(), FieldError> {
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if (min..=max).contains(&value.len())
        && value.chars().all(allowed)
        && ends(value.chars().next())
        && ends(value.chars().last())
    {
        Ok(())
    } else {
        Err(refuse(
            field,
            format!("{value:?} is not a valid name: {rule}"),
        ))
    }
}

/// An FTP server: a host name or address, optionally as an `ftp://` URL with a port.
fn ftp_host(raw: &str, field: &str) -> Result<(String, Option<u16>), FieldError> {
    let bare = raw
        .strip_prefix("ftp://")
        .or_else(|| raw.strip_prefix("ftps://"))
        .unwrap_or(raw)
        .trim_end_matches('/');
    let url = url::Url::parse(&format!("ftp://{bare}/"))
        .map_err(|e| refuse(field, format!("{raw:?} is not a host name or address: {e}")))?;
    let host = url.host_str().unwrap_or_default();
    if host.is_empty() || url.path() != "/" || !url.username().is_empty() {
        return Err(refuse(
            field,
            format!("{raw:?} is not a host name or address (put the path in parameters.file)"),
        ));
    }
    Ok((host.to_string(), url.port()))
}

fn port(parameters: &Map<String, Value>, field: &str) -> Result<Option<u16>, FieldError> {
    let refused = || refuse(format!("{field}.port"), "must be a port number, 1 to 65535");
    match parameters.get("port") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|&p| p > 0)
            .map(Some)
            .ok_or_else(refused),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .map(Some)
            .ok_or_else(refused),
        Some(_) => Err(refused()),
    }
}

/// The service account of `credentials.keyfile`: the key file's JSON, as text or as an
/// object.
fn service_account(
    credentials: &Map<String, Value>,
    field: &str,
) -> Result<ServiceAccount, FieldError> {
    let field = format!("{field}.keyfile");
    let refused = || {
        refuse(
            &field,
            "is not a service-account key file (JSON with client_email and private_key)",
        )
    };
    let parsed;
    let key = match credentials.get("keyfile") {
        None | Some(Value::Null) => return Err(refuse(&field, "is required")),
        Some(Value::Object(map)) => map,
        Some(Value::String(s)) => {
            parsed = serde_json::from_str::<Value>(s).map_err(|_| refused())?;
            parsed.as_object().ok_or_else(refused)?
        }
        Some(_) => return Err(refused()),
    };
    let get = |k: &str| key.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(client_email), Some(private_key)) = (get("client_email"), get("private_key")) else {
        return Err(refused());
    };
    if !private_key.contains("-----BEGIN") {
        return Err(refuse(&field, "has a private_key that is not a PEM key"));
    }
    Ok(ServiceAccount {
        client_email,
        private_key_id: get("private_key_id").unwrap_or_default(),
        private_key: Secret(private_key),
    })
}

/// The S3 credentials of a cloud input or output target (`parameters_field` and `field`
/// are where its parameters and credentials sit in the request).
pub fn s3_credentials(
    parameters: &Map<String, Value>,
    credentials: &Map<String, Value>,
    parameters_field: &str,
    field: &str,
) -> Result<UserCredentials, FieldError> {
    let region = optional(parameters, "region").unwrap_or("eu-central-1");
    // The region becomes part of the S3 host name: only a region's shape may pass.
    name_like(
        region,
        &format!("{parameters_field}.region"),
        2,
        32,
        |ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-',
        "a region such as eu-central-1 (2 to 32 lowercase letters, digits and dashes)",
    )?;
    Ok(UserCredentials {
        access_key_id: text(credentials, "accesskeyid", field)?.to_string(),
        secret_access_key: text(credentials, "secretaccesskey", field)?.to_string(),
        session_token: optional(credentials, "sessiontoken").map(str::to_string),
        region: region.to_string(),
    })
}

impl Location {
    /// Reads a provider's descriptor; `field` is where it sits in the request
    /// (`input[0]`, `conversion[0].output_target[1]`). An output target's `file` may name a
    /// folder (ending in `/`, or none for the top) that the output's name is added to.
    pub fn parse(
        provider: &str,
        parameters: &Map<String, Value>,
        credentials: &Map<String, Value>,
        field: &str,
        output: bool,
    ) -> Result<Location, FieldError> {
        let p = format!("{field}.parameters");
        let c = format!("{field}.credentials");
        // An object's name has no leading `/`; an FTP path may be absolute.
        let file = |required: bool| -> Result<String, FieldError> {
            let file = optional(parameters, "file").unwrap_or_default();
            let file = if provider == "ftp" {
                file
            } else {
                file.trim_start_matches('/')
            };
            if file.is_empty() && required {
                return Err(refuse(format!("{p}.file"), "is required"));
            }
            if !output && file.ends_with('/') {
                return Err(refuse(format!("{p}.file"), "names a folder, not a file"));
            }
            Ok(file.to_string())
        };
        Ok(match provider {
            "amazons3" => Location::AmazonS3 {
                bucket: text(parameters, "bucket", &p)?.to_string(),
                key: file(!output)?,
                credentials: s3_credentials(parameters, credentials, &p, &c)?,
            },
            "googlecloud" => {
                let bucket = text(parameters, "bucket", &p)?;
                name_like(
                    bucket,
                    &format!("{p}.bucket"),
                    3,
                    222,
                    |ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "-_.".contains(ch),
                    "3 to 222 lowercase letters, digits, dashes, underscores and dots",
                )?;
                Location::GoogleCloud {
                    project: text(parameters, "projectid", &p)?.to_string(),
                    bucket: bucket.to_string(),
                    object: file(true)?,
                    account: service_account(credentials, &c)?,
                }
            }
            "azure" => {
                let container = text(parameters, "container", &p)?;
                name_like(
                    container,
                    &format!("{p}.container"),
                    3,
                    63,
                    |ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-',
                    "3 to 63 lowercase letters, digits and dashes",
                )?;
                // The account name becomes part of a host name: nothing else may pass.
                let account = text(credentials, "accountname", &c)?;
                name_like(
                    account,
                    &format!("{c}.accountname"),
                    3,
                    24,
                    |ch| ch.is_ascii_lowercase() || ch.is_ascii_digit(),
                    "3 to 24 lowercase letters and digits",
                )?;
                Location::Azure {
                    account: account.to_string(),
                    key: Secret(text(credentials, "accountkey", &c)?.to_string()),
                    container: container.to_string(),
                    blob: file(true)?,
                }
            }
            "ftp" => {
                let (host, url_port) =
                    ftp_host(text(parameters, "host", &p)?, &format!("{p}.host"))?;
                Location::Ftp {
                    host,
                    port: port(parameters, &p)?.or(url_port).unwrap_or(21),
                    path: file(true)?,
                    username: text(credentials, "username", &c)?.to_string(),
                    password: Secret(text(credentials, "password", &c)?.to_string()),
                }
            }
            other => {
                return Err(refuse(
                    if output {
                        format!("{field}.type")
                    } else {
                        format!("{field}.source")
                    },
                    format!(
                        "{other:?} is not a storage Folio reads or writes; it knows {}",
                        PROVIDERS.join(", ")
                    ),
                ));
            }
        })
    }

    /// The provider's name, as the API gives it.
    pub fn provider(&self) -> &'static str {
        match self {
            Location::AmazonS3 { .. } => "amazons3",
            Location::GoogleCloud { .. } => "googlecloud",
            Location::Azure { .. } => "azure",
            Location::Ftp { .. } => "ftp",
        }
    }

    fn path_mut(&mut self) -> &mut String {
        match self {
            Location::AmazonS3 { key, .. } => key,
            Location::GoogleCloud { object, .. } => object,
            Location::Azure { blob, .. } => blob,
            Location::Ftp { path, .. } => path,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            Location::AmazonS3 { key, .. } => key,
            Location::GoogleCloud { object, .. } => object,
            Location::Azure { blob, .. } => blob,
            Location::Ftp { path, .. } => path,
        }
    }

    /// An output target's place for a file named `filename`: `file` itself, or, when it
    /// names a folder, the file in it.
    pub fn for_output(mut self, filename: &str) -> Location {
        let path = self.path_mut();
        if path.is_empty() || path.ends_with('/') {
            path.push_str(filename);
        }
        self
    }

    /// Where it is, for messages: no secret in it.
    pub fn describe(&self) -> String {
        match self {
            Location::AmazonS3 { bucket, key, .. } => format!("s3://{bucket}/{key}"),
            Location::GoogleCloud { bucket, object, .. } => format!("gs://{bucket}/{object}"),
            Location::Azure {
                account,
                container,
                blob,
                ..
            } => format!("azure://{account}/{container}/{blob}"),
            Location::Ftp {
                host, port, path, ..
            } => format!("ftp://{host}:{port}/{path}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(provider: &str, p: Value, c: Value, output: bool) -> Result<Location, FieldError> {
        Location::parse(
            provider,
            p.as_object().unwrap(),
            c.as_object().unwrap(),
            "x",
            output,
        )
    }

    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n";

    #[test]
    fn each_provider_reads_its_keys() {
        let gcs = parse(
            "googlecloud",
            json!({"projectid": "p", "bucket": "b-1", "file": "a/b.png"}),
            json!({"keyfile": json!({"client_email": "e@p", "private_key": KEY,
                    "gcs_base_url": "http://169.254.169.254", "disable_oauth": true}).to_string()}),
            false,
        )
        .unwrap();
        assert_eq!(gcs.describe(), "gs://b-1/a/b.png");
        // The key file's endpoint and switches are not kept: only the key.
        assert!(!format!("{gcs:?}").contains("169.254"));
        assert!(!format!("{gcs:?}").contains("PRIVATE KEY"));
        let azure = parse(
            "azure",
            json!({"container": "pics", "file": "out/"}),
            json!({"accountname": "acct1", "accountkey": "a2V5"}),
            true,
        )
        .unwrap();
        assert_eq!(
            azure.for_output("x.png").describe(),
            "azure://acct1/pics/out/x.png"
        );
        let ftp = parse(
            "ftp",
            json!({"host": "ftp://files.example.com:2121/", "file": "/in/a.jpg"}),
            json!({"username": "u", "password": "pw"}),
            false,
        )
        .unwrap();
        assert_eq!(ftp.describe(), "ftp://files.example.com:2121//in/a.jpg");
        assert_eq!(ftp.path(), "/in/a.jpg", "an FTP path may be absolute");
        assert!(!format!("{ftp:?}").contains("pw"));
        let ftp = parse(
            "ftp",
            json!({"host": "10.0.0.5", "port": "990", "file": "a.jpg"}),
            json!({"username": "u", "password": "pw"}),
            false,
        )
        .unwrap();
        assert_eq!(ftp.describe(), "ftp://10.0.0.5:990/a.jpg");
    }

    #[test]
    fn bad_descriptors_name_the_field() {
        let e = parse(
            "azure",
            json!({"container": "pics", "file": "a"}),
            json!({"accountname": "evil.com/x?", "accountkey": "k"}),
            true,
        )
        .unwrap_err();
        assert_eq!(e.field, "x.credentials.accountname");
        let e = parse(
            "googlecloud",
            json!({"projectid": "p", "bucket": "..", "file": "a"}),
            json!({"keyfile": "{}"}),
            true,
        )
        .unwrap_err();
        assert_eq!(e.field, "x.parameters.bucket");
        let e = parse(
            "googlecloud",
            json!({"projectid": "p", "bucket": "b-1", "file": "a"}),
            json!({"keyfile": "not json"}),
            true,
        )
        .unwrap_err();
        assert_eq!(e.field, "x.credentials.keyfile");
        let e = parse(
            "ftp",
            json!({"host": "h", "file": "a", "port": 70000}),
            json!({"username": "u", "password": "p"}),
            true,
        )
        .unwrap_err();
        assert_eq!(e.field, "x.parameters.port");
        let e = parse(
            "ftp",
            json!({"host": "h/dir", "file": "a"}),
            json!({"username": "u", "password": "p"}),
            true,
        )
        .unwrap_err();
        assert_eq!(e.field, "x.parameters.host");
        let e = parse(
            "ftp",
            json!({"host": "h", "file": "dir/"}),
            json!({"username": "u", "password": "p"}),
            false,
        )
        .unwrap_err();
        assert_eq!(e.field, "x.parameters.file");
        let e = parse("dropbox", json!({}), json!({}), false).unwrap_err();
        assert_eq!(e.field, "x.source");
        for region in [
            "169.254.169.254",
            "x.evil.com/",
            "EU-WEST-1",
            "a",
            &"a".repeat(40),
        ] {
            let e = parse(
                "amazons3",
                json!({"bucket": "b", "file": "a", "region": region}),
                json!({"accesskeyid": "a", "secretaccesskey": "s"}),
                false,
            )
            .unwrap_err();
            assert_eq!(e.field, "x.parameters.region", "{region:?}");
        }
    }
}
