//! Metrics of gRPC calls, beside the HTTP front's: a count by method and status code, and a
//! latency histogram by method. Labels come from a fixed set (the served methods and gRPC's
//! codes), never from what a request names.

use std::time::Instant;

use tonic::{Code, Status};

/// Times one call; [`CallTimer::finish`] records it with the call's code.
pub struct CallTimer {
    method: &'static str,
    started: Instant,
}

impl CallTimer {
    /// Starts timing a call to `method` (`Service/Method`).
    pub fn start(method: &'static str) -> CallTimer {
        CallTimer {
            method,
            started: Instant::now(),
        }
    }

    /// Records the call's outcome and passes it through.
    pub fn finish<T>(self, result: Result<T, Status>) -> Result<T, Status> {
        let code = match &result {
            Ok(_) => Code::Ok,
            Err(s) => s.code(),
        };
        metrics::counter!(
            "edgefeat_grpc_requests_total",
            "method" => self.method,
            "code" => code_name(code)
        )
        .increment(1);
        metrics::histogram!("edgefeat_grpc_request_duration_seconds", "method" => self.method)
            .record(self.started.elapsed().as_secs_f64());
        result
    }
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
