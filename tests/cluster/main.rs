//! Several hosts on one PostgreSQL: at the store (`leases`: partitions,
//! leases, hand-over, fencing), as hosts in one process (`inbox`: each
//! routes the events of its own partitions, wherever they were accepted;
//! `interrupt`: an interrupt posted to the host that does not run the
//! skill; `shared`: one agent-scope value written from both; `give_back`:
//! a host's waiting work in partitions it gives back), and as
//! `skillhost run --join` processes: one of them killed (`kill`), and each
//! answering for work the other ran (`reads`).

mod give_back;
mod inbox;
mod interrupt;
mod kill;
mod leases;
mod reads;
mod shared;
