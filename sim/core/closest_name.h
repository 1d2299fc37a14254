// "Did you mean ...?" for user-written names: the candidate closest to a word by edit distance
// (case-insensitive Levenshtein), if close enough to be a plausible typo.
#pragma once
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iommusim {

size_t edit_distance(std::string_view a, std::string_view b);

// A candidate within max(2, |word| / 3) edits of `word`; nothing for words longer than 64 characters.
std::optional<std::string> closest_name(std::string_view word, std::initializer_list<const char*> candidates);
std::optional<std::string> closest_name(std::string_view word, const std::vector<std::string>& candidates);

} // namespace iommusim
