#include "support/json_lite.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <locale>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace nab_test::json {

namespace {

const char* type_name(Value::Type t) {
    switch (t) {
        case Value::Type::Null: return "null";
        case Value::Type::Bool: return "bool";
        case Value::Type::Number: return "number";
        case Value::Type::String: return "string";
        case Value::Type::Array: return "array";
        case Value::Type::Object: return "object";
    }
    return "?";
}

[[noreturn]] void wrong_type(Value::Type want, Value::Type got) {
    throw std::runtime_error(std::string("json: expected ") + type_name(want) + ", found " +
                             type_name(got));
}

class Parser {
public:
    explicit Parser(const std::string& text) : s_(text) {}

    Value document() {
        Value v = value(0);
        skip_ws();
        if (pos_ != s_.size()) fail("trailing characters after the document");
        return v;
    }

private:
    static constexpr int kMaxDepth = 64;

    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("json: " + what + " at byte " + std::to_string(pos_));
    }

    void skip_ws() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
            ++pos_;
        }
    }

    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++pos_;
    }

    void literal(const char* word) {
        for (const char* p = word; *p != '\0'; ++p) {
            if (peek() != *p) fail(std::string("invalid literal (expected ") + word + ")");
            ++pos_;
        }
    }

    Value value(int depth) {
        if (depth > kMaxDepth) fail("nesting too deep");
        skip_ws();
        const char c = peek();
        if (c == '{') return object(depth);
        if (c == '[') return array(depth);
        if (c == '"') return Value::make_string(string());
        if (c == 't') { literal("true"); return Value::make_bool(true); }
        if (c == 'f') { literal("false"); return Value::make_bool(false); }
        if (c == 'n') { literal("null"); return Value(); }
        if (c == '-' || (c >= '0' && c <= '9')) return Value::make_number(number());
        fail("unexpected character");
    }

    Value object(int depth) {
        expect('{');
        std::map<std::string, Value> members;
        skip_ws();
        if (peek() == '}') { ++pos_; return Value::make_object(std::move(members)); }
        for (;;) {
            skip_ws();
            if (peek() != '"') fail("expected a member name");
            std::string key = string();
            skip_ws();
            expect(':');
            Value v = value(depth + 1);
            if (!members.emplace(key, std::move(v)).second) fail("duplicate member \"" + key + "\"");
            skip_ws();
            if (peek() == ',') { ++pos_; continue; }
            expect('}');
            return Value::make_object(std::move(members));
        }
    }

    Value array(int depth) {
        expect('[');
        std::vector<Value> items;
        skip_ws();
        if (peek() == ']') { ++pos_; return Value::make_array(std::move(items)); }
        for (;;) {
            items.push_back(value(depth + 1));
            skip_ws();
            if (peek() == ',') { ++pos_; continue; }
            expect(']');
            return Value::make_array(std::move(items));
        }
    }

    unsigned hex4() {
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = peek();
            unsigned d = 0;
            if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
            else fail("invalid \\u escape");
            v = v * 16u + d;
            ++pos_;
        }
        return v;
    }

    static void append_utf8(std::string& out, unsigned cp) {
        if (cp < 0x80u) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800u) {
            out.push_back(static_cast<char>(0xC0u | (cp >> 6)));
            out.push_back(static_cast<char>(0x80u | (cp & 0x3Fu)));
        } else if (cp < 0x10000u) {
            out.push_back(static_cast<char>(0xE0u | (cp >> 12)));
            out.push_back(static_cast<char>(0x80u | ((cp >> 6) & 0x3Fu)));
            out.push_back(static_cast<char>(0x80u | (cp & 0x3Fu)));
        } else {
            out.push_back(static_cast<char>(0xF0u | (cp >> 18)));
            out.push_back(static_cast<char>(0x80u | ((cp >> 12) & 0x3Fu)));
            out.push_back(static_cast<char>(0x80u | ((cp >> 6) & 0x3Fu)));
            out.push_back(static_cast<char>(0x80u | (cp & 0x3Fu)));
        }
    }

    std::string string() {
        expect('"');
        std::string out;
        for (;;) {
            if (pos_ >= s_.size()) fail("unterminated string");
            const char c = s_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20u) fail("control character in string");
            if (c != '\\') { out.push_back(c); continue; }
            const char e = peek();
            ++pos_;
            switch (e) {
                case '"': out.push_back('"'); break;
                case '\\': out.push_back('\\'); break;
                case '/': out.push_back('/'); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'n': out.push_back('\n'); break;
                case 'r': out.push_back('\r'); break;
                case 't': out.push_back('\t'); break;
                case 'u': {
                    unsigned cp = hex4();
                    if (cp >= 0xD800u && cp <= 0xDBFFu) {
                        expect('\\');
                        expect('u');
                        const unsigned lo = hex4();
                        if (lo < 0xDC00u || lo > 0xDFFFu) fail("invalid surrogate pair");
                        cp = 0x10000u + ((cp - 0xD800u) << 10) + (lo - 0xDC00u);
                    } else if (cp >= 0xDC00u && cp <= 0xDFFFu) {
                        fail("lone low surrogate");
                    }
                    append_utf8(out, cp);
                    break;
                }
                default: --pos_; fail("invalid escape");
            }
        }
    }

    static bool is_digit(char c) { return c >= '0' && c <= '9'; }

    // JSON grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, then converted exactly
    // (std::from_chars: correctly rounded, locale-independent).
    double number() {
        const size_t start = pos_;
        if (peek() == '-') ++pos_;
        if (peek() == '0') {
            ++pos_;
        } else if (is_digit(peek())) {
            while (is_digit(peek())) ++pos_;
        } else {
            fail("invalid number");
        }
        if (peek() == '.') {
            ++pos_;
            if (!is_digit(peek())) fail("invalid number (digit expected after '.')");
            while (is_digit(peek())) ++pos_;
        }
        if (peek() == 'e' || peek() == 'E') {
            ++pos_;
            if (peek() == '+' || peek() == '-') ++pos_;
            if (!is_digit(peek())) fail("invalid number (digit expected in exponent)");
            while (is_digit(peek())) ++pos_;
        }
        double d = 0.0;
        const char* first = s_.data() + start;
        const char* last = s_.data() + pos_;
#if defined(__cpp_lib_to_chars)
        const auto res = std::from_chars(first, last, d);
        const bool parsed = res.ec == std::errc() && res.ptr == last;
#else
        // libstdc++ before GCC 11 (Debian 11's, where the released library is built and tested)
        // has no floating-point from_chars: a classic-locale stream, strtod underneath, which
        // also rounds correctly.
        std::istringstream text(std::string(first, last));
        text.imbue(std::locale::classic());
        text >> d;
        const bool parsed = !text.fail() && text.peek() == std::char_traits<char>::eof();
#endif
        if (!parsed || !std::isfinite(d)) {
            pos_ = start;
            fail("number out of range");
        }
        return d;
    }

    const std::string& s_;
    size_t pos_ = 0;
};

}  // namespace

Value Value::make_bool(bool b) {
    Value v;
    v.type_ = Type::Bool;
    v.bool_ = b;
    return v;
}

Value Value::make_number(double d) {
    Value v;
    v.type_ = Type::Number;
    v.number_ = d;
    return v;
}

Value Value::make_string(std::string s) {
    Value v;
    v.type_ = Type::String;
    v.string_ = std::move(s);
    return v;
}

Value Value::make_array(std::vector<Value> items) {
    Value v;
    v.type_ = Type::Array;
    v.array_ = std::make_shared<std::vector<Value>>(std::move(items));
    return v;
}

Value Value::make_object(std::map<std::string, Value> members) {
    Value v;
    v.type_ = Type::Object;
    v.object_ = std::make_shared<std::map<std::string, Value>>(std::move(members));
    return v;
}

bool Value::as_bool() const {
    if (type_ != Type::Bool) wrong_type(Type::Bool, type_);
    return bool_;
}

double Value::as_number() const {
    if (type_ != Type::Number) wrong_type(Type::Number, type_);
    return number_;
}

int64_t Value::as_int() const {
    const double d = as_number();
    // 2^63 is exactly representable; every integral double in [-2^63, 2^63) fits.
    if (std::trunc(d) != d || d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
        throw std::runtime_error("json: expected an integer, found " + std::to_string(d));
    }
    return static_cast<int64_t>(d);
}

const std::string& Value::as_string() const {
    if (type_ != Type::String) wrong_type(Type::String, type_);
    return string_;
}

const std::vector<Value>& Value::as_array() const {
    if (type_ != Type::Array) wrong_type(Type::Array, type_);
    return *array_;
}

const std::map<std::string, Value>& Value::as_object() const {
    if (type_ != Type::Object) wrong_type(Type::Object, type_);
    return *object_;
}

const Value& Value::at(const std::string& key) const {
    const auto& members = as_object();
    const auto it = members.find(key);
    if (it == members.end()) throw std::runtime_error("json: missing member \"" + key + "\"");
    return it->second;
}

bool Value::contains(const std::string& key) const {
    return as_object().count(key) != 0;
}

Value parse(const std::string& text) {
    return Parser(text).document();
}

Value parse_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    try {
        return parse(buffer.str());
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
}

}  // namespace nab_test::json
