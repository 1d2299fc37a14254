#include "sim/core/closest_name.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace iommusim {

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                              std::tolower(static_cast<unsigned char>(b[j - 1]));
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (same ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

namespace {
template <typename It>
std::optional<std::string> closest(std::string_view word, It first, It last) {
    if (word.size() > 64) return std::nullopt;
    std::optional<std::string> best;
    size_t best_d = std::numeric_limits<size_t>::max();
    for (It it = first; it != last; ++it) {
        const size_t d = edit_distance(word, *it);
        if (d < best_d) best_d = d, best = std::string(*it);
    }
    if (best && best_d <= std::max<size_t>(2, word.size() / 3)) return best;
    return std::nullopt;
}
} // namespace

std::optional<std::string> closest_name(std::string_view word, std::initializer_list<const char*> candidates) {
    return closest(word, candidates.begin(), candidates.end());
}

std::optional<std::string> closest_name(std::string_view word, const std::vector<std::string>& candidates) {
    return closest(word, candidates.begin(), candidates.end());
}

} // namespace iommusim
