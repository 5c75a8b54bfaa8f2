//! Users, roles, tokens and the check every API request goes through.
//!
//! Passwords are stored as argon2id PHC strings. API tokens are 256 random bits, so a
//! fast hash (BLAKE3) is enough to store them: nothing useful can be brute-forced, and the
//! lookup costs no more than a primary-key read. Argon2 is deliberately slow, so a
//! verified Basic credential is cached in memory (by a hash of the credential, never the
//! password) for a few minutes: high-rate uploaders with Basic auth must not pay it per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use cairn_store::{Store, User};
use rand::RngCore;

/// What a principal may do. Ordered: each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read intelligence.
    Reader,
    /// Read and write intelligence.
    Contributor,
    /// Everything, including users, tokens and configuration.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "reader" => Some(Role::Reader),
            "contributor" => Some(Role::Contributor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Contributor => "contributor",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::parse(s).ok_or_else(|| format!("unknown role '{s}': use admin, contributor or reader"))
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
}

#[derive(Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials were sent.
    Missing,
    /// Credentials were sent but are not valid.
    Invalid(&'static str),
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 with default parameters").to_string()
}

pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A new API token: `cairn_` and 43 URL-safe base64 characters (256 random bits).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("cairn_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

pub fn token_hash(token: &str) -> [u8; 32] {
    *blake3::hash(token.as_bytes()).as_bytes()
}

/// Creates or replaces a user.
pub fn add_user(store: &dyn Store, name: &str, role: Role, password: &str) -> Result<(), String> {
    if name.is_empty() || name.contains(':') {
        return Err("a user name must be non-empty and must not contain ':' (HTTP Basic separates on it)".into());
    }
    if password.len() < 8 {
        return Err("the password must be at least 8 characters long".into());
    }
    store
        .put_user(&User { name: name.into(), role: role.as_str().into(), password_hash: hash_password(password) })
        .map_err(|e| e.to_string())
}

/// Creates a token for `name` with `role`; returns the token (shown once, stored hashed).
pub fn create_token(store: &dyn Store, name: &str, role: Role) -> Result<String, String> {
    let token = new_token();
    store.put_token(&token_hash(&token), name, role.as_str()).map_err(|e| e.to_string())?;
    Ok(token)
}

const BASIC_CACHE_TTL: Duration = Duration::from_secs(300);

/// Verified Basic credentials, keyed by the BLAKE3 of `user:password`, with when verified.
type BasicCache = Arc<Mutex<HashMap<[u8; 32], (Principal, Instant)>>>;

/// Checks `Authorization` headers against the store.
#[derive(Clone)]
pub struct Authenticator {
    store: Arc<dyn Store>,
    basic_cache: BasicCache,
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>) -> Authenticator {
        Authenticator { store, basic_cache: Arc::default() }
    }

    /// Authenticates an `Authorization` header value: `Bearer <token>`, `Token <token>`
    /// or `Basic <base64(user:password)>`. Blocking (store reads, argon2).
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        let Some(value) = authorization else { return Err(AuthError::Missing) };
        let (scheme, rest) =
            value.trim().split_once(' ').ok_or(AuthError::Invalid("malformed Authorization header"))?;
        let rest = rest.trim();
        match scheme.to_ascii_lowercase().as_str() {
            "bearer" | "token" => self.by_token(rest),
            "basic" => self.by_password(rest),
            _ => Err(AuthError::Invalid("unsupported authorization scheme; use Bearer, Token or Basic")),
        }
    }

    pub fn by_token(&self, token: &str) -> Result<Principal, AuthError> {
        match self.store.token(&token_hash(token)) {
            Ok(Some((name, role))) => Ok(Principal { name, role: Role::parse(&role).unwrap_or(Role::Reader) }),
            _ => Err(AuthError::Invalid("unknown token")),
        }
    }

    fn by_password(&self, encoded: &str) -> Result<Principal, AuthError> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| AuthError::Invalid("Basic credentials are not base64"))?;
        let key = *blake3::hash(&decoded).as_bytes();
        if let Some((p, at)) = self.basic_cache.lock().expect("auth cache").get(&key) {
            if at.elapsed() < BASIC_CACHE_TTL {
                return Ok(p.clone());
            }
        }
        let text = String::from_utf8(decoded).map_err(|_| AuthError::Invalid("Basic credentials are not UTF-8"))?;
        let (user, password) = text.split_once(':').ok_or(AuthError::Invalid("Basic credentials lack ':'"))?;
        let Ok(Some(u)) = self.store.user(user) else {
            return Err(AuthError::Invalid("unknown user or wrong password"));
        };
        if !verify_password(&u.password_hash, password) {
            return Err(AuthError::Invalid("unknown user or wrong password"));
        }
        let p = Principal { name: u.name, role: Role::parse(&u.role).unwrap_or(Role::Reader) };
        let mut cache = self.basic_cache.lock().expect("auth cache");
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, (p.clone(), Instant::now()));
        Ok(p)
    }
}

/// How long a browser session lasts after login.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// A logged-in browser session: the session cookie's token (only its hash is stored) and
/// the CSRF token the page must echo in `X-CSRF-Token` on every request that changes
/// something.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub csrf: String,
}

/// What is stored per session (`session` documents, keyed by the token's BLAKE3): the
/// user's name, not their role, so a changed role or a deleted user takes effect at once.
#[derive(serde::Serialize, serde::Deserialize)]
struct SessionDoc {
    user: String,
    csrf: String,
    expires: i64,
}

fn session_key(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

/// A random, URL-safe token of 256 bits.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares secrets without an early exit, so timing does not tell how much matched.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Authenticator {
    /// Checks a user's password and opens a session. Blocking (argon2, store).
    pub fn login(&self, user: &str, password: &str) -> Result<(Principal, Session), AuthError> {
        let Ok(Some(u)) = self.store.user(user) else {
            // Spend the same time as a wrong password, so user names cannot be probed.
            let _ = verify_password(dummy_phc(), password);
            return Err(AuthError::Invalid("unknown user or wrong password"));
        };
        if !verify_password(&u.password_hash, password) {
            return Err(AuthError::Invalid("unknown user or wrong password"));
        }
        let session = Session { token: random_token(), csrf: random_token() };
        let doc = SessionDoc {
            user: u.name.clone(),
            csrf: session.csrf.clone(),
            expires: cairn_store::now_micros() + SESSION_TTL.as_micros() as i64,
        };
        let text = serde_json::to_string(&doc).expect("a session serialises");
        self.store
            .put_doc("session", &session_key(&session.token), &text)
            .map_err(|_| AuthError::Invalid("could not store the session"))?;
        Ok((Principal { name: u.name, role: Role::parse(&u.role).unwrap_or(Role::Reader) }, session))
    }

    /// The principal and CSRF token of a session cookie's token. Blocking (store reads).
    pub fn by_session(&self, token: &str) -> Result<(Principal, String), AuthError> {
        let key = session_key(token);
        let doc = match self.store.doc("session", &key) {
            Ok(Some(text)) => serde_json::from_str::<SessionDoc>(&text).ok(),
            _ => None,
        };
        let Some(doc) = doc else { return Err(AuthError::Invalid("the session has ended: log in again")) };
        if doc.expires <= cairn_store::now_micros() {
            let _ = self.store.delete_doc("session", &key);
            return Err(AuthError::Invalid("the session has expired: log in again"));
        }
        match self.store.user(&doc.user) {
            Ok(Some(u)) => {
                Ok((Principal { name: u.name, role: Role::parse(&u.role).unwrap_or(Role::Reader) }, doc.csrf))
            }
            _ => Err(AuthError::Invalid("the session's user no longer exists")),
        }
    }

    /// Ends a session (logout). Blocking.
    pub fn end_session(&self, token: &str) {
        let _ = self.store.delete_doc("session", &session_key(token));
    }
}

/// An argon2id hash of a random password, checked against when the user does not exist.
fn dummy_phc() -> &'static str {
    static PHC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PHC.get_or_init(|| hash_password(&random_token()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Arc::new(cairn_store::SqliteStore::open_dir(dir.path()).unwrap()), dir)
    }

    #[test]
    fn tokens_and_passwords() {
        let (s, _d) = store();
        add_user(s.as_ref(), "alice", Role::Admin, "correct horse").unwrap();
        assert!(add_user(s.as_ref(), "bob", Role::Admin, "short").is_err());
        let t = create_token(s.as_ref(), "ci", Role::Contributor).unwrap();
        assert!(t.starts_with("cairn_") && t.len() == 6 + 43);
        let a = Authenticator::new(s);
        let ci = Principal { name: "ci".into(), role: Role::Contributor };
        assert_eq!(a.authenticate(Some(&format!("Bearer {t}"))), Ok(ci.clone()));
        assert_eq!(a.authenticate(Some(&format!("Token {t}"))), Ok(ci));
        assert!(a.authenticate(Some("Bearer cairn_nope")).is_err());
        assert_eq!(a.authenticate(None), Err(AuthError::Missing));
        let good = format!("Basic {}", STANDARD.encode("alice:correct horse"));
        let bad = format!("Basic {}", STANDARD.encode("alice:wrong horse"));
        assert_eq!(a.authenticate(Some(&good)).unwrap().role, Role::Admin);
        assert_eq!(a.authenticate(Some(&good)).unwrap().role, Role::Admin, "cached path");
        assert!(a.authenticate(Some(&bad)).is_err());
        assert!(a.authenticate(Some("Digest abc")).is_err());
    }

    #[test]
    fn sessions() {
        let (s, _d) = store();
        add_user(s.as_ref(), "alice", Role::Contributor, "correct horse").unwrap();
        let a = Authenticator::new(s.clone());
        assert!(a.login("alice", "wrong horse").is_err());
        assert!(a.login("mallory", "correct horse").is_err());
        let (p, session) = a.login("alice", "correct horse").unwrap();
        assert_eq!(p.role, Role::Contributor);
        assert_ne!(session.token, session.csrf);
        let (q, csrf) = a.by_session(&session.token).unwrap();
        assert_eq!((q, csrf.as_str()), (p, session.csrf.as_str()));
        assert!(a.by_session("forged").is_err());
        // A role change applies to open sessions at once.
        add_user(s.as_ref(), "alice", Role::Reader, "correct horse").unwrap();
        assert_eq!(a.by_session(&session.token).unwrap().0.role, Role::Reader);
        a.end_session(&session.token);
        assert!(a.by_session(&session.token).is_err());
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("abc", "ab"));
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin > Role::Contributor && Role::Contributor > Role::Reader);
        assert_eq!("contributor".parse::<Role>(), Ok(Role::Contributor));
        assert!("root".parse::<Role>().is_err());
    }
}
