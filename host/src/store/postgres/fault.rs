//! Which PostgreSQL errors are the database refusing writes for now (the
//! connection lost, the server restarting, its disk full, a serialization
//! conflict), as opposed to a write that is wrong and fails for good. The
//! writer holds the pipeline's writes through the first kind and retries
//! them in order, as the SQLite store's does through a full disk.

/// SQLSTATE classes and codes that pass: connection exceptions (08),
/// insufficient resources (53: disk full, out of memory, too many
/// connections), operator intervention (57P01-03: shutdown, restart),
/// system I/O error (58030), serialization failure and deadlock (40001,
/// 40P01).
fn transient_code(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "58030" | "40001" | "40P01"
        )
}

/// Whether `e` is the database refusing writes for now (see the module docs).
pub(super) fn is_transient(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        if cause
            .downcast_ref::<deadpool_postgres::PoolError>()
            .is_some()
        {
            // No connection to be had: the server is down or unreachable.
            return true;
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        let Some(pg) = cause.downcast_ref::<tokio_postgres::Error>() else {
            return false;
        };
        if pg.is_closed() {
            return true;
        }
        match pg.code() {
            Some(code) => transient_code(code.code()),
            // No SQLSTATE: an I/O error under the connection, unless it is a
            // conversion of ours (which is a bug, and fails for good).
            None => std::error::Error::source(pg)
                .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_resource_errors_pass_and_constraints_do_not() {
        for code in [
            "08006", "08001", "53100", "53300", "57P01", "40001", "40P01",
        ] {
            assert!(transient_code(code), "{code}");
        }
        for code in ["23505", "23502", "42P01", "22P02", "57014"] {
            assert!(!transient_code(code), "{code}");
        }
        assert!(!is_transient(&anyhow::anyhow!("unknown actor id `x`")));
        assert!(is_transient(&anyhow::Error::from(std::io::Error::other(
            "connection reset"
        ))));
    }
}
