//! Durability across restarts (written next).
