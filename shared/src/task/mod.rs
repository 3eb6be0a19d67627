//! Images-to-PDF tasks, compatible with Alibaba Cloud IMM: projects (the namespace of tasks
//! and the role workers act through), `CreateImageToPDFTask`, the worker that writes the
//! PDF, and `GetTask`/`ListTasks`.

pub mod announce;
pub mod create;
pub mod model;
pub mod project;
pub mod query;
pub mod validate;
pub mod worker;
