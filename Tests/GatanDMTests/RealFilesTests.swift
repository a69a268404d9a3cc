import Foundation
import Testing
@testable import GatanDM

/// Every real file in ../shared/data/dm against the values RosettaSciIO 0.15 returns for it.
@Suite(.enabled(if: SharedData.dmAvailable, SharedData.skipMessage))
struct RealFilesAgreeWithReference {
    /// Files (and signals) a micrograph reader must refuse, with the kind of error it gives.
    static let refusals: [String: DMError.Kind] = [
        "openNCEM_08_carbon.dm3#1": .notAMicrograph,                       // EELS spectrum stored as 1 x 2048
        "rosettasciio_2D_multi_signal.dm3#2": .notAMicrograph,             // a 1-D plot beside the image
        "rosettasciio_2D_test-MonarcCL_spectrum-SI.dm4#1": .notAMicrograph, // CL spectrum image
        "rosettasciio_2D_test-MonoCL_spectrum-SI.dm4#1": .notAMicrograph,   // CL spectrum image
        "rosettasciio_2D_test_fft_packed_complex8.dm4#1": .unsupportedData, // packed-complex FFT
    ]

    static func dtypeName(_ t: DMDataType) -> String {
        switch t {
        case .rgb, .rgba: "rgba (fields R,G,B,A of uint8)"
        case .packedComplex64: "complex64"
        case .packedComplex128: "complex128"
        default: t.description
        }
    }

    @Test("all 52 reference files are present and listed")
    func referenceListsEveryFile() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: SharedData.dm.path).filter { $0.hasSuffix(".dm3") || $0.hasSuffix(".dm4") }
        #expect(Set(names) == Set(try loadReference().map(\.file)))
        #expect(names.count == 52)
    }

    @Test("shapes, types, calibrations and statistics match the reference", arguments: try! SharedData.dmAvailable ? loadReference() : [])
    func fileMatchesReference(_ ref: ReferenceFile) throws {
        let file = try DMReader.read(contentsOf: SharedData.dm.appendingPathComponent(ref.file))
        #expect(file.version == ref.dmVersion)
        let images = try file.images()
        #expect(images.count == ref.signals.count, "\(ref.file): \(images.count) images, reference has \(ref.signals.count) signals")
        for (i, (image, signal)) in zip(images, ref.signals).enumerated() {
            let key = "\(ref.file)#\(i + 1)"
            #expect(image.title == signal.title, "\(key)")
            #expect(Self.dtypeName(image.dataType) == signal.dtype, "\(key)")
            if let refusal = Self.refusals[key] {
                let error = #expect(throws: DMError.self, "\(key) must be refused") { try image.validateAsMicrograph() }
                #expect(error?.kind == refusal, "\(key): \(String(describing: error))")
                #expect(error?.tagPath?.hasPrefix("ImageList.") == true)
                if refusal == .unsupportedData { continue }  // packed data: no shape to compare
            } else {
                #expect(throws: Never.self, "\(key)") { try image.validateAsMicrograph() }
            }
            #expect(image.shape == signal.shape, "\(key)")
            #expect(image.axes.count == signal.axes.count, "\(key)")
            for (axis, refAxis) in zip(image.axes, signal.axes) {
                #expect(axis.scale == refAxis.scale, "\(key) scale")
                #expect(abs(axis.offset - refAxis.offset) <= 1e-9 * max(1, abs(refAxis.offset)), "\(key) offset \(axis.offset) vs \(refAxis.offset)")
                #expect(axis.unit == refAxis.units, "\(key) unit")
            }
            let pixels = try image.pixels()
            if let values = pixels.realValues {
                #expect(values.count == signal.shape.reduce(1, *))
                if let sum = signal.sum { #expect(abs(values.reduce(0, +) - sum) <= 1e-9 * max(1, abs(sum)), "\(key) sum") }
                if let m = signal.min { #expect(values.min() == m, "\(key) min") }
                if let m = signal.max { #expect(values.max() == m, "\(key) max") }
                if let f = signal.firstValues { #expect(Array(values.prefix(f.count)) == f, "\(key) first values") }
                if let l = signal.lastValue { #expect(values.last == l, "\(key) last value") }
            } else if case .complex64(let v) = pixels {
                #expect(stride(from: 0, to: v.count, by: 2).map { Double(v[$0]) }.reduce(0, +) == signal.sumReal)
                #expect(stride(from: 1, to: v.count, by: 2).map { Double(v[$0]) }.reduce(0, +) == signal.sumImag)
            } else if case .complex128(let v) = pixels {
                #expect(stride(from: 0, to: v.count, by: 2).map { v[$0] }.reduce(0, +) == signal.sumReal)
                #expect(stride(from: 1, to: v.count, by: 2).map { v[$0] }.reduce(0, +) == signal.sumImag)
            } else if case .rgba(let v) = pixels {
                #expect(v.count == 4 * signal.shape.reduce(1, *))
            }
            // The working image always has one Float per pixel.
            #expect(try image.floatPixels().count == image.pixelCount)
        }
    }

    @Test("non-square pixels in different length units survive as nm per axis")
    func nonSquarePixels() throws {
        for ext in ["dm3", "dm4"] {
            let image = try #require(try DMReader.read(contentsOf: SharedData.dm.appendingPathComponent("openNCEM_dmTest_float32_nonSquare_diffPixelSize.\(ext)")).images().first)
            // y: 2 Å = 0.2 nm, x: 1 nm
            #expect(image.pixelSizeNm == PixelSizeNm(y: 0.2, x: 1.0))
        }
    }

    @Test("micrometre units written as µm and um are normalised to nm")
    func micrometres() throws {
        let image = try #require(try DMReader.read(contentsOf: SharedData.dm.appendingPathComponent("rosettasciio_misc_test_stackbuilder_imagestack.dm3")).images().first)
        #expect(image.frameCount == 3)
        let px = try #require(image.pixelSizeNm)
        #expect(abs(px.x - 59.98290330171585) < 1e-9)
        let stack = try #require(try DMReader.read(contentsOf: SharedData.dm.appendingPathComponent("openNCEM_dmTest_3D_int16_64_65_66.dm3")).images().first)
        #expect(stack.pixelSizeNm == PixelSizeNm(y: 3, x: 0.002))  // y 3 nm, x 2 pm
    }

    @Test("diffraction patterns (1/nm) and uncalibrated images have no pixel size in nm")
    func nonLengthUnits() throws {
        let dp = try #require(try DMReader.read(contentsOf: SharedData.dm.appendingPathComponent("rosettasciio_2D_test_diffraction_pattern.dm3")).images().first)
        #expect(dp.axes.last?.unit == "1/nm")
        #expect(dp.pixelSizeNm == nil)
        let survey = try #require(try DMReader.read(contentsOf: SharedData.dm.appendingPathComponent("SciFiReaders_DMReader_Image_SI-Survey.dm3")).images().first)
        #expect(survey.pixelSizeNm == nil)
    }

    @Test("instrument metadata is read where present")
    func metadata() throws {
        let image = try #require(try DMReader.read(contentsOf: SharedData.dm.appendingPathComponent("rosettasciio_2D_multi_signal.dm3")).images().first)
        #expect(image.metadata.voltageV == 300_000)
        #expect(image.metadata.indicatedMagnification == 10_000_000)
        #expect(image.metadata.microscope == "FEI Tecnai Remote")
        #expect(image.metadata.acquisitionDate == "12/10/2019")
        #expect(image.metadata.acquisitionTime == "3:32:41 PM")
        let um = try #require(try DMReader.read(contentsOf: SharedData.dm.appendingPathComponent("rosettasciio_misc_test_dm_image_um_unit.dm3")).images().first)
        #expect(um.metadata.exposureSeconds == 0.5)
        #expect(um.metadata.actualMagnification == 83)
    }

    @Test("the tag tree answers DigitalMicrograph-style paths")
    func tagPaths() throws {
        let file = try DMReader.read(contentsOf: SharedData.dm.appendingPathComponent("rosettasciio_2D_multi_signal.dm3"))
        #expect(file.root.double(at: "ImageList.2.ImageData.Calibrations.Dimension.1.Scale") == Double(Float(0.017751578241586685)))
        #expect(file.root.string(at: "ImageList.2.ImageData.Calibrations.Dimension.1.Units") == "nm")
        #expect(file.root.int(at: "Thumbnails.1.ImageIndex") == 0)
        #expect(file.root.node(at: "ImageList.9") == nil)
    }
}
