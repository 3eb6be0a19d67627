//! The data folder's master key: 32 random bytes in a file only its owner can read. It
//! encrypts access secrets at rest (AES-256-GCM, as KMS does in AWS) and signs the upload
//! and download URLs `folio serve` hands out (through a key derived for that use).

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::Sha256;

use crate::error::PortError;

const KEY_LEN: usize = 32;

#[derive(Clone)]
pub struct MasterKey([u8; KEY_LEN]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("reading the master key {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the master key {0} is not 64 hex digits")]
    Malformed(String),
    #[error("no random bytes for a new master key")]
    Random,
}

impl MasterKey {
    /// Reads the key at `path`, or makes one there (readable by its owner only).
    pub fn load_or_create(path: &Path) -> Result<MasterKey, MasterKeyError> {
        let io = |source| MasterKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| <[u8; KEY_LEN]>::try_from(b).ok())
                    .ok_or_else(|| MasterKeyError::Malformed(path.display().to_string()))?;
                Ok(MasterKey(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; KEY_LEN];
                SystemRandom::new()
                    .fill(&mut key)
                    .map_err(|_| MasterKeyError::Random)?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(io)?;
                file.write_all(hex::encode(key).as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(MasterKey(key))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A key for one use, derived from the master key (HMAC-SHA256 of the use's name).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn aead(&self) -> LessSafeKey {
        // 32 bytes is AES-256's key length, so the key is always accepted.
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.derive("folio secrets")).expect("a 32-byte key"),
        )
    }

    /// `plain` encrypted, bound to `context` (it decrypts only with the same context):
    /// the nonce, then the ciphertext and its tag.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<Vec<u8>, PortError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| PortError::backend("encrypting a secret", "no random bytes"))?;
        let mut sealed = plain.to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| PortError::backend("encrypting a secret", "sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, PortError> {
        let failed = || PortError::backend("decrypting a secret", "wrong key or context");
        if sealed.len() < NONCE_LEN {
            return Err(failed());
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| failed())?;
        let mut buffer = rest.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| failed())?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_opens_with_its_context_only_and_the_key_survives_a_reload() {
        let dir = std::env::temp_dir().join(format!("folio-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a folder");
        let path = dir.join("master.key");
        let key = MasterKey::load_or_create(&path).expect("created");
        let sealed = key.seal(b"s3cret", "LTAIone").expect("sealed");
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        let again = MasterKey::load_or_create(&path).expect("loaded");
        assert_eq!(again.open(&sealed, "LTAIone").expect("opened"), b"s3cret");
        assert!(again.open(&sealed, "LTAItwo").is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
