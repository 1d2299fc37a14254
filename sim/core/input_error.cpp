#include "sim/core/input_error.h"

namespace iommusim {

namespace {
std::string compose(const std::string& file, const std::string& location, const std::string& message) {
    std::string s = file.empty() ? std::string("<input>") : file;
    if (!location.empty()) s += ": " + location;
    return s + ": " + message;
}
} // namespace

input_error::input_error(std::string file, std::string location, std::string message)
    : std::runtime_error(compose(file, location, message)), m_file(std::move(file)),
      m_location(std::move(location)), m_message(std::move(message)) {}

input_error input_error::with_file(const std::string& file) const {
    return m_file.empty() ? input_error(file, m_location, m_message) : *this;
}

} // namespace iommusim
