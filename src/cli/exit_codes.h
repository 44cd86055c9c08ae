// Exit codes of the inloop binary, one per kind of failure, so scripts can tell them apart.
// `inloop run` exits with the training command's own code (128+signal when it was killed), the
// code of its last attempt when the remedy policy restarted it.
#pragma once

#include "common/status.h"

namespace inloop::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;          // bad flags or arguments
inline constexpr int kExitNotFound = 3;       // no such run, series or file
inline constexpr int kExitInvalid = 4;        // bad input: config, line, value
inline constexpr int kExitCorrupt = 5;        // the store or an input file is damaged
inline constexpr int kExitIncompatible = 6;   // store written by another format version
inline constexpr int kExitIo = 7;             // the OS refused a read or write
inline constexpr int kExitStoreFailed = 8;    // run: the training succeeded but tracking failed
inline constexpr int kExitPolicyStopped = 9;  // run: the remedy policy ended a live process
inline constexpr int kExitRequeued = 10;      // run: the Slurm job was requeued; the run goes on
// ask: the model endpoint (assist/); none of these leaves anything half-done in the store.
inline constexpr int kExitNoModel = 20;           // INLOOP_LLM_URL / _MODEL unset or unusable
inline constexpr int kExitModelUnreachable = 21;  // connection refused, DNS, TLS
inline constexpr int kExitModelTimeout = 22;      // no byte within the connect or idle timeout
inline constexpr int kExitModelHttpError = 23;    // an error status or error object from it
inline constexpr int kExitModelRateLimited = 24;  // still 429/503 after the retries
inline constexpr int kExitModelBadResponse = 25;  // not JSON / not the chat-completions shape
inline constexpr int kExitModelTruncated = 26;    // the answer stopped before its end
inline constexpr int kExitAskBound = 27;          // tool-call or token bound hit before an answer
// serve: the server could not start (src/http/); nothing was served.
inline constexpr int kExitServeNeedsToken = 30;    // a non-loopback --bind without a token
inline constexpr int kExitServeBadAddress = 31;    // --bind is not an address of this machine
inline constexpr int kExitServeCannotListen = 32;  // the port is taken or not allowed
// loop (loop/): the research loop; each leaves the work tree clean.
inline constexpr int kExitLoopNone = 50;           // no loop here (run `inloop loop init`)
inline constexpr int kExitLoopDirtyTree = 51;      // changes the loop did not make: commit/stash
inline constexpr int kExitLoopGit = 52;            // git failed (message has git's own words)
inline constexpr int kExitLoopInterrupted = 53;    // Ctrl-C/SIGTERM: the round was undone
inline constexpr int kExitLoopNeedsApproval = 54;  // --approve without a TTY and without --yes
inline constexpr int kExitLoopBaselineFailed = 55; // the unchanged command never logged the metric
inline constexpr int kExitLoopBusy = 56;           // another `loop run` holds the repository
// deploy (gateway/): the serving verb and its clients (status, promote, rollback, compare).
inline constexpr int kExitDeployNoReplica = 40;    // no replica became ready at start
inline constexpr int kExitDeployUnreachable = 41;  // no deploy answers on the admin port
inline constexpr int kExitDeployRefused = 42;      // the deploy refused: token, no candidate
inline constexpr int kExitDeployBind = 43;         // the proxy port could not be bound
inline constexpr int kExitDeployNoPairs = 44;      // compare: no usable shadow pair recorded
// audit (audit/): a finding at or above --fail-on (default high) in a file that was scanned.
inline constexpr int kExitAuditFindings = 60;
// sync (sync/): a run that could not be uploaded stays in the local store; run sync again.
inline constexpr int kExitSyncUnreachable = 70;  // the server did not answer
inline constexpr int kExitSyncRefused = 71;      // the server refused a batch (token, scope, data)
// data run: a step failed, failed an error check, or was blocked; data status --check: stale.
inline constexpr int kExitDataFailed = 61;
// model promote: the gate refused and no --override was given (registry/gate.h).
inline constexpr int kExitModelGateRefused = 62;
// run: a pipeline output the command names failed its step's build or validation (docs/data.md)
inline constexpr int kExitDataRefused = 63;
inline constexpr int kExitCommandNotFound = 127;

inline int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return kExitOk;
    case Status::Code::kNotFound: return kExitNotFound;
    case Status::Code::kInvalid: return kExitInvalid;
    case Status::Code::kCorrupt: return kExitCorrupt;
    case Status::Code::kIncompatible: return kExitIncompatible;
    case Status::Code::kIo: return kExitIo;
  }
  return kExitIo;
}

}  // namespace inloop::cli
