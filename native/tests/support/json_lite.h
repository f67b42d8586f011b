// A minimal, strict JSON reader for the tests' data indexes (RFC 8259 subset that the
// generators write: objects, arrays, strings with the standard escapes, numbers, true, false,
// null). Parse errors and wrong-type accesses throw std::runtime_error with a clear message;
// nothing is guessed or coerced.
#ifndef NAB_TESTS_SUPPORT_JSON_LITE_H
#define NAB_TESTS_SUPPORT_JSON_LITE_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace nab_test::json {

class Value {
public:
    enum class Type { Null, Bool, Number, String, Array, Object };

    Value() = default;
    static Value make_bool(bool b);
    static Value make_number(double d);
    static Value make_string(std::string s);
    static Value make_array(std::vector<Value> items);
    static Value make_object(std::map<std::string, Value> members);

    Type type() const { return type_; }
    bool is_null() const { return type_ == Type::Null; }

    bool as_bool() const;
    double as_number() const;
    // The number as an integer; throws unless it is integral and within [min, max] of int64.
    int64_t as_int() const;
    const std::string& as_string() const;
    const std::vector<Value>& as_array() const;
    const std::map<std::string, Value>& as_object() const;

    // Object member access; throws naming the key if absent or if this is not an object.
    const Value& at(const std::string& key) const;
    bool contains(const std::string& key) const;

private:
    Type type_ = Type::Null;
    bool bool_ = false;
    double number_ = 0.0;
    std::string string_;
    std::shared_ptr<std::vector<Value>> array_;
    std::shared_ptr<std::map<std::string, Value>> object_;
};

// Parses a whole document (trailing whitespace only). Throws std::runtime_error with the byte
// offset of the problem.
Value parse(const std::string& text);

// Reads a file and parses it. Throws std::runtime_error naming the file.
Value parse_file(const std::string& path);

}  // namespace nab_test::json

#endif  // NAB_TESTS_SUPPORT_JSON_LITE_H
