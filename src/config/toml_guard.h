// A look at a scenario file's text before the TOML parser sees it: a key made of thousands of
// dotted parts (a.a.a.a...) makes the parser recurse once per part and overflow the stack, so
// such a file is refused with a message instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pelt {

// At most this many dotted parts in one key (and in one table header).
inline constexpr size_t kMaxKeyParts = 128;

// False when a key has more than max_parts dotted parts; line and column (1-based) of the
// part past the limit, and a message.
bool check_key_depth(std::string_view text, size_t max_parts, uint32_t& line, uint32_t& column,
                     std::string& message);

}  // namespace pelt
