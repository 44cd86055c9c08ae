// Writing an sbatch script into a folder and submitting it with `sbatch --parsable` (a fixed argv,
// no shell): what `inloop submit --slurm` and `inloop data run --slurm` share. The script is
// readable by its owner only (it may hold a server token); the job's output goes beside it as
// slurm-JOBID.out.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace inloop::slurm {

struct SubmittedJob {
  std::string job_id;
  std::string script;  // the script's path
  std::string output;  // the job's stdout and stderr
};

// Writes `script` as DIR/JOBNAME-TIME-PID[-N].sbatch (DIR made if needed) and submits it with the
// extra sbatch options `sbatch_args` (e.g. --dependency=afterok:12). Io names the script and
// sbatch's own complaint when it refuses.
Status SubmitScript(const std::string& dir, const std::string& job_name, const std::string& script,
                    const std::vector<std::string>& sbatch_args, SubmittedJob* out);

// The job id from `sbatch --parsable`'s output ("ID" or "ID;CLUSTER").
std::string ParseJobId(std::string out);

}  // namespace inloop::slurm
