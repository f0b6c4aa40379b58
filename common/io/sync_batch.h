// Flushes to run later: gathered under a lock that other threads need (the producer link's, around
// its spool), run after it is dropped. The fds are the batch's own, so it stays valid when their
// owner closes or replaces its files meanwhile.
#pragma once

#include <string>
#include <vector>

#include "common/io/file_io.h"
#include "common/status/status.h"

namespace hw::io {

class SyncBatch {
 public:
  Status Run();
  bool empty() const { return files_.empty(); }
  // Syncs a duplicate of fd (the original may be closed before Run).
  Status AddDup(int fd, std::string path, bool data_only);
  void Add(UniqueFd fd, std::string path, bool data_only);

 private:
  struct File {
    UniqueFd fd;
    std::string path;  // for the error message
    bool data_only;    // fdatasync; false: fsync (a directory)
  };
  std::vector<File> files_;
};

}  // namespace hw::io
