/// Length units as DigitalMicrograph writes them, normalised to nanometres.
///
/// This is the one place where calibration units become nanometres; everything downstream
/// carries `...Nm` values.
public enum LengthUnit {
    /// Nanometres per one `unit`, or `nil` when `unit` is not a length (`1/nm`, `eV`, empty, ...).
    public static func nanometres(per unit: String) -> Double? {
        let u = unit.trimmingCharacters(in: .whitespaces)
        switch u {
        case "nm", "nanometer", "nanometers", "nanometre", "nanometres": return 1
        case "Å", "A", "Ang", "Angstrom", "angstrom", "Angstroms", "angstroms": return 0.1  // U+00C5 and U+212B compare equal
        case "pm", "picometer", "picometers": return 1e-3
        case "µm", "μm", "um", "micron", "microns", "micrometer", "micrometers", "micrometre": return 1e3
        case "mm", "millimeter", "millimeters": return 1e6
        case "cm": return 1e7
        case "m", "meter", "meters", "metre", "metres": return 1e9
        default: return nil
        }
    }
}

extension String {
    func trimmingCharacters(in set: WhitespaceSet) -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}

enum WhitespaceSet { case whitespaces }
