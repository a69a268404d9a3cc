#if canImport(Glibc)
import Glibc
#endif
import CCairo
import Foundation
import ImageFiles

/// Output formats of figures and pictures.
public enum FigureFormat: String, CaseIterable, Sendable {
    case png, svg, pdf
}

/// A colour with components 0...1.
public struct Colour: Sendable, Equatable {
    public var r: Double, g: Double, b: Double
    public init(_ r: Double, _ g: Double, _ b: Double) { self.r = r; self.g = g; self.b = b }
    init(_ rgb: RGB) { self.init(Double(rgb.r) / 255, Double(rgb.g) / 255, Double(rgb.b) / 255) }
    public static let black = Colour(0, 0, 0), white = Colour(1, 1, 1), grey = Colour(0.45, 0.45, 0.45), light = Colour(0.85, 0.85, 0.85)
    /// Okabe-Ito, readable with every common colour-vision deficiency.
    public static let series = [Colour(0, 0.447, 0.698), Colour(0.835, 0.369, 0), Colour(0, 0.62, 0.451), Colour(0.8, 0.475, 0.655),
                                Colour(0.902, 0.624, 0), Colour(0.337, 0.706, 0.914), Colour(0.941, 0.894, 0.259), Colour(0, 0, 0)]
}

/// A drawing in points (1/72 inch) with cairo, text with pango in DejaVu Sans (any script the
/// font covers: Å, µ, ², Greek, Cyrillic; others through fontconfig's fallbacks).
public struct Figure: Sendable {
    public let widthPt: Double
    public let heightPt: Double
    let draw: @Sendable (Painter) -> Void

    public init(widthPt: Double, heightPt: Double, draw: @escaping @Sendable (Painter) -> Void) {
        self.widthPt = widthPt
        self.heightPt = heightPt
        self.draw = draw
    }

    /// The figure as a file: PNG at `dpi` (recorded in the file's pHYs chunk), SVG or PDF.
    public func render(_ format: FigureFormat, dpi: Double = 300) throws -> [UInt8] {
        if format == .png {
            let (rgb, w, h) = try rasterRGB(scale: dpi / 72)
            return try PNGFile.encode(rgb8: rgb, width: w, height: h, dotsPerInch: dpi)
        }
        let sink = ByteSink()
        let closure = Unmanaged.passUnretained(sink).toOpaque()
        let surface = format == .svg ? cairo_svg_surface_create_for_stream(byteSinkWrite, closure, widthPt, heightPt)
                                     : cairo_pdf_surface_create_for_stream(byteSinkWrite, closure, widthPt, heightPt)
        guard let surface, cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else { throw FigureError("cannot create a \(format.rawValue) surface") }
        defer { cairo_surface_destroy(surface) }
        let cr = cairo_create(surface)!
        draw(Painter(cr))
        let status = cairo_status(cr)
        cairo_destroy(cr)
        cairo_surface_finish(surface)
        guard status == CAIRO_STATUS_SUCCESS else { throw FigureError("drawing failed: \(String(cString: cairo_status_to_string(status)))") }
        return sink.bytes
    }

    /// The figure rasterised on white at `scale` pixels per point: 8-bit RGB, width, height.
    public func rasterRGB(scale: Double = 1) throws -> (rgb: [UInt8], width: Int, height: Int) {
        let w = Int((widthPt * scale).rounded()), h = Int((heightPt * scale).rounded())
        guard w > 0, h > 0, let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(w), Int32(h)),
              cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else { throw FigureError("cannot create a \(w) x \(h) picture") }
        defer { cairo_surface_destroy(surface) }
        let cr = cairo_create(surface)!
        cairo_scale(cr, scale, scale)
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        draw(Painter(cr))
        let status = cairo_status(cr)
        cairo_destroy(cr)
        guard status == CAIRO_STATUS_SUCCESS else { throw FigureError("drawing failed: \(String(cString: cairo_status_to_string(status)))") }
        cairo_surface_flush(surface)
        let stride = Int(cairo_image_surface_get_stride(surface))
        guard let data = cairo_image_surface_get_data(surface) else { throw FigureError("no picture data") }
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        for row in 0..<h {
            let line = UnsafeRawPointer(data + row * stride).assumingMemoryBound(to: UInt32.self)
            for col in 0..<w {
                let v = line[col]
                let k = (row * w + col) * 3
                rgb[k] = UInt8(v >> 16 & 0xFF); rgb[k + 1] = UInt8(v >> 8 & 0xFF); rgb[k + 2] = UInt8(v & 0xFF)
            }
        }
        return (rgb, w, h)
    }
}

public struct FigureError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

final class ByteSink: @unchecked Sendable {
    var bytes: [UInt8] = []
}

let byteSinkWrite: cairo_write_func_t = { closure, data, length in
    guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
    let sink = Unmanaged<ByteSink>.fromOpaque(closure).takeUnretainedValue()
    sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
    return CAIRO_STATUS_SUCCESS
}

/// Drawing operations on a cairo context, in points.
public final class Painter {
    let cr: OpaquePointer
    init(_ cr: OpaquePointer) { self.cr = cr }

    public func colour(_ c: Colour, alpha: Double = 1) { cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha) }
    public func lineWidth(_ w: Double) { cairo_set_line_width(cr, w) }
    public func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double) { cairo_rectangle(cr, x, y, w, h) }
    public func move(_ x: Double, _ y: Double) { cairo_move_to(cr, x, y) }
    public func line(_ x: Double, _ y: Double) { cairo_line_to(cr, x, y) }
    public func close() { cairo_close_path(cr) }
    public func fill() { cairo_fill(cr) }
    public func stroke() { cairo_stroke(cr) }
    public func fillPreserve() { cairo_fill_preserve(cr) }
    public func dash(_ pattern: [Double]) { cairo_set_dash(cr, pattern, Int32(pattern.count), 0) }
    public func save() { cairo_save(cr) }
    public func restore() { cairo_restore(cr) }

    /// A straight segment, stroked.
    public func segment(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double) {
        move(x0, y0); line(x1, y1); stroke()
    }

    /// An 8-bit RGB raster drawn at (x, y) with one pixel per point (images stay sharp: no
    /// smoothing when scaled up for the PNG's resolution).
    public func image(_ rgb: [UInt8], width: Int, height: Int, x: Double = 0, y: Double = 0) {
        guard width > 0, height > 0, let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)) else { return }
        cairo_surface_flush(surface)
        let stride = Int(cairo_image_surface_get_stride(surface))
        if let data = cairo_image_surface_get_data(surface) {
            for row in 0..<height {
                let line = data + row * stride
                for col in 0..<width {
                    let k = (row * width + col) * 3
                    // CAIRO_FORMAT_RGB24: 32-bit native-endian 0x00RRGGBB
                    line.advanced(by: col * 4).withMemoryRebound(to: UInt32.self, capacity: 1) {
                        $0.pointee = UInt32(rgb[k]) << 16 | UInt32(rgb[k + 1]) << 8 | UInt32(rgb[k + 2])
                    }
                }
            }
        }
        cairo_surface_mark_dirty(surface)
        save()
        cairo_set_source_surface(cr, surface, x, y)
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST)
        rect(x, y, Double(width), Double(height))
        fill()
        restore()
        cairo_surface_destroy(surface)
    }

    /// The size of `text` in points.
    public func measure(_ text: String, size: Double, bold: Bool = false) -> (width: Double, height: Double) {
        let layout = self.layout(text, size: size, bold: bold)
        defer { g_object_unref(UnsafeMutableRawPointer(layout)) }
        var w: Int32 = 0, h: Int32 = 0
        pango_layout_get_size(layout, &w, &h)
        return (Double(w) / Double(PANGO_SCALE), Double(h) / Double(PANGO_SCALE))
    }

    /// Draws `text` with its top-left at (x, y); `anchor` 0 left, 0.5 centre, 1 right aligns it on
    /// x. `halo`: an outline of that colour around the glyphs (readable on any background).
    public func text(_ text: String, x: Double, y: Double, size: Double, colour: Colour = .black, bold: Bool = false, anchor: Double = 0,
                     rotated: Bool = false, halo: Colour? = nil) {
        let layout = self.layout(text, size: size, bold: bold)
        defer { g_object_unref(UnsafeMutableRawPointer(layout)) }
        var w: Int32 = 0, h: Int32 = 0
        pango_layout_get_size(layout, &w, &h)
        let width = Double(w) / Double(PANGO_SCALE)
        save()
        cairo_translate(cr, x, y)
        if rotated { cairo_rotate(cr, -Double.pi / 2) }
        cairo_move_to(cr, -anchor * width, 0)
        if let halo {
            pango_cairo_layout_path(cr, layout)
            self.colour(halo)
            lineWidth(max(1.5, size / 5))
            cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
            cairo_stroke(cr)
            cairo_move_to(cr, -anchor * width, 0)
        }
        self.colour(colour)
        pango_cairo_show_layout(cr, layout)
        restore()
    }

    func layout(_ text: String, size: Double, bold: Bool) -> OpaquePointer {
        let layout = pango_cairo_create_layout(cr)!
        let font = pango_font_description_from_string("DejaVu Sans \(bold ? "Bold " : "")\(size)")
        // sizes in points, independent of the surface's resolution
        pango_font_description_set_absolute_size(font, size * Double(PANGO_SCALE))
        pango_layout_set_font_description(layout, font)
        pango_font_description_free(font)
        pango_layout_set_text(layout, text, -1)
        return layout
    }
}
