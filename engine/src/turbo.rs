//! libjpeg-turbo, the one place Folio calls into C for JPEG: a handle that is always
//! destroyed, errors copied out as text. The decoder (every JPEG process but the
//! hierarchical one, with DCT scaling) and the encoder build on it.

use std::ffi::{CStr, c_int};

pub use turbojpeg_sys as tj;

/// A libjpeg-turbo compressor or decompressor, destroyed when dropped.
pub struct Handle(pub tj::tjhandle);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init, is not null, and is destroyed only here.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

impl Handle {
    pub fn decompressor() -> Result<Handle, String> {
        Handle::init(tj::TJINIT_TJINIT_DECOMPRESS)
    }

    pub fn compressor() -> Result<Handle, String> {
        Handle::init(tj::TJINIT_TJINIT_COMPRESS)
    }

    fn init(kind: tj::TJINIT) -> Result<Handle, String> {
        // SAFETY: tj3Init has no preconditions; a null result is checked.
        let raw = unsafe { tj::tj3Init(kind as c_int) };
        if raw.is_null() {
            return Err("the JPEG codec could not be started".into());
        }
        Ok(Handle(raw))
    }

    pub fn get(&self, param: tj::TJPARAM) -> c_int {
        // SAFETY: a live handle; tj3Get only reads the handle's state.
        unsafe { tj::tj3Get(self.0, param as c_int) }
    }

    pub fn set(&self, param: tj::TJPARAM, value: c_int) -> Result<(), String> {
        // SAFETY: a live handle; tj3Set only writes the handle's state.
        match unsafe { tj::tj3Set(self.0, param as c_int, value) } {
            0 => Ok(()),
            _ => Err(self.error()),
        }
    }

    /// Whether a call that returned `status` failed: a warning is not a failure when the
    /// handle was told not to stop on warnings (libjpeg-turbo reports it all the same).
    pub fn failed(&self, status: c_int) -> bool {
        if status == 0 {
            return false;
        }
        // SAFETY: a live handle; tj3GetErrorCode only reads its state.
        let warning = unsafe { tj::tj3GetErrorCode(self.0) } == tj::TJERR_TJERR_WARNING as c_int;
        !(warning && self.get(tj::TJPARAM_TJPARAM_STOPONWARNING) == 0)
    }

    /// The message of the last failed call.
    pub fn error(&self) -> String {
        // SAFETY: tj3GetErrorStr returns a NUL-terminated string owned by the handle (or a
        // static one), valid until the next call on the handle; it is copied at once.
        let message = unsafe { CStr::from_ptr(tj::tj3GetErrorStr(self.0)) };
        let message = message.to_string_lossy();
        message.trim().trim_end_matches('.').to_string()
    }
}
