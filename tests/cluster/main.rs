//! Several hosts on one PostgreSQL: at the store (`leases`: partitions,
//! leases, hand-over, fencing) and as running hosts (`inbox`: each routes
//! the events of its own partitions, wherever they were accepted).

mod inbox;
mod leases;
