//! Fault injection between the client and the API, for the model tests: a request lost on
//! the way, a response lost after the server acted, a request sent twice, an upload that
//! never happens, a crash between writing a file and recording it. Production uses
//! [`NoFaults`].

/// The kinds of request the client makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Login,
    Refresh,
    State,
    Push,
    Confirm,
    Pull,
    /// `POST /vault/packs`.
    Packs,
    /// `POST /vault/bulk`.
    Bulk,
    /// `POST /vault/bulk/confirm`.
    BulkConfirm,
    Delete,
    /// `GET /vault/history`.
    History,
    /// `GET /vault/deleted`.
    Deleted,
    /// `POST /vault/restore`, either form.
    Restore,
    /// PUT of bytes to a presigned S3 URL.
    Upload,
    /// GET of bytes from a presigned S3 URL.
    Download,
    /// `POST /devices/register`.
    Register,
    /// `GET /account`.
    Account,
    /// `POST /auth/logout`.
    Logout,
    /// `DELETE /account`.
    DeleteAccount,
    /// `GET /vault/keys`.
    GetKeys,
    /// `PUT /vault/keys`.
    PutKeys,
    /// `/vault/migration` (turning encryption on for a vault with notes).
    Migration,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Login => "login",
            Op::Refresh => "refresh",
            Op::State => "state",
            Op::Push => "push",
            Op::Confirm => "confirm",
            Op::Pull => "pull",
            Op::Packs => "packs",
            Op::Bulk => "bulk",
            Op::BulkConfirm => "bulk_confirm",
            Op::Delete => "delete",
            Op::History => "history",
            Op::Deleted => "deleted",
            Op::Restore => "restore",
            Op::Upload => "upload",
            Op::Download => "download",
            Op::Register => "register",
            Op::Account => "account",
            Op::Logout => "logout",
            Op::DeleteAccount => "delete account",
            Op::GetKeys => "read key slots",
            Op::PutKeys => "write key slots",
            Op::Migration => "migration",
        }
    }
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Fails before anything is sent.
    DropRequest,
    /// Sent and handled, but the answer never arrives.
    LoseResponse,
    /// Sent twice; the second answer is used.
    Duplicate,
    /// The client believes it was sent (a 200), but nothing was sent: an upload that never
    /// happened.
    Pretend,
}

pub trait Faults: Send + Sync {
    fn on_request(&self, _op: Op) -> Fault {
        Fault::None
    }
    /// True to "crash" right after a pulled file is written, before `sync.db` records it.
    fn crash_after_write(&self, _path: &str) -> bool {
        false
    }
}

/// No faults: the real world's own failures are enough.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFaults;

impl Faults for NoFaults {}
