// Writing an output file so that readers see the old file or the whole new one, never a part.
#pragma once

#include <string>
#include <string_view>

namespace pelt {

// Writes `content` to a temporary file in the folder of `path`, flushes it to disk and renames
// it over `path`. The file gets mode 0666 less the umask, like a plain open(). Returns false
// with `error` set ("cannot write out/report.html: No such file or directory") on failure; the
// temporary file is removed then.
bool write_file_atomic(const std::string& path, std::string_view content, std::string& error);

}  // namespace pelt
