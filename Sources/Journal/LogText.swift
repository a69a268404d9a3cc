/// Text from outside (file and folder names, sample names, error messages quoting them) made
/// safe for logs and terminals: where logging lives, with the handlers that use it.
public enum LogText {
    /// `text` with control characters, format characters and replacement characters made
    /// visible (`\n`, `\u{1}`, `\u{202E}`, `\u{FFFD}`; a backslash stays as it is, so text
    /// escaped once reads the same when escaped again): for logs and terminals, so a file or sample name can
    /// neither forge log lines nor move the cursor.
    public static func printable(_ text: String) -> String {
        var out = ""
        for u in text.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u.value == 0xFFFD || u.properties.generalCategory == .format:
                out += "\\u{\(String(u.value, radix: 16, uppercase: true))}"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// Raw name bytes as text: valid UTF-8 sequences as `printable(_:)` shows them, every byte
    /// of an invalid one as `\xFF`.
    public static func printable(bytes: some Collection<UInt8>) -> String {
        let b = Array(bytes)
        var out = "", run: [UInt8] = [], k = 0
        func flush() { out += printable(String(decoding: run, as: UTF8.self)); run = [] }
        while k < b.count {
            let lead = b[k]
            let length = lead < 0x80 ? 1 : lead >> 5 == 0b110 ? 2 : lead >> 4 == 0b1110 ? 3 : lead >> 3 == 0b11110 ? 4 : 0
            if length > 0, k + length <= b.count, String(validating: b[k..<(k + length)], as: UTF8.self) != nil {
                run.append(contentsOf: b[k..<(k + length)])
                k += length
            } else {
                flush()
                out += "\\x" + String(lead, radix: 16, uppercase: true).leftPadded(to: 2)
                k += 1
            }
        }
        flush()
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
