// A configuration or input error: something a user wrote (a JSON file, an lspci dump, a command-line
// value) is wrong. Always carries where (file, and a JSON path or a line number) and what.
// Guest- or device-triggerable problems are never reported this way: they become fault records or errno.
#pragma once
#include <stdexcept>
#include <string>

namespace iommusim {

class input_error : public std::runtime_error {
public:
    // location: a JSON path such as "/root_buses/0/devices/3/acs/cap", or "line 42", or empty.
    input_error(std::string file, std::string location, std::string message);

    const std::string& file() const { return m_file; }
    const std::string& location() const { return m_location; }
    const std::string& message() const { return m_message; }

    // Re-throws with a file name filled in where the thrower did not know it.
    input_error with_file(const std::string& file) const;

private:
    std::string m_file, m_location, m_message;
};

} // namespace iommusim
