// The origin id of a local store: a random id, drawn once and kept in the file `sync-origin` in
// the store's directory, that names this store to a server (sync/protocol.h). Two processes
// drawing at once agree on one id (the file is linked into place, never overwritten). Copying a
// store directory copies its id: its runs then map to the same server runs, which is right for a
// backup and wrong for a fork (delete the file in the copy to make it a new origin).
#pragma once

#include <string>

#include "common/status.h"

namespace inloop::sync {

// Reads the id of the store at `store_dir`, drawing and recording one when there is none.
// Corrupt when the file holds something that is not an id.
Status LoadOrCreateOrigin(const std::string& store_dir, std::string* id);

}  // namespace inloop::sync
