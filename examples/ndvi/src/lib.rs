//! What the three NDVI steps share: reading and writing single-image GeoTIFFs with the
//! `tiff` crate, carrying the geo-referencing tags of the input over to the output, and
//! the Seed runtime contract (inputs and `OUTPUT_DIR` from the environment, declared exit
//! codes).

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use tiff::decoder::{Decoder, DecodingResult};
use tiff::encoder::colortype::{ColorType, Gray32Float, Gray8};
use tiff::encoder::{Compression, DeflateLevel, TiffEncoder, TiffValue};
use tiff::tags::Tag;

/// Exit code of a step whose input is not what its manifest says (a Seed `data` error).
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code of a step that could not write its output (a Seed `job` error).
pub const EXIT_CANNOT_WRITE: i32 = 3;

/// A failure with the exit code the step's manifest declares for it.
pub struct Failure {
    pub code: i32,
    pub message: String,
}

pub fn bad_input(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_BAD_INPUT,
        message: message.into(),
    }
}

pub fn cannot_write(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_CANNOT_WRITE,
        message: message.into(),
    }
}

/// Runs a step: its error goes to stderr (the job's log) and becomes its exit code.
pub fn run_step(step: impl FnOnce() -> Result<(), Failure>) {
    if let Err(failure) = step() {
        eprintln!("{}", failure.message);
        std::process::exit(failure.code);
    }
}

/// A value the Seed runtime passes in the environment (input paths, json inputs,
/// `OUTPUT_DIR`); `None` when unset or empty (an optional input not given).
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// A path the step cannot run without.
pub fn required_path(name: &str) -> Result<PathBuf, Failure> {
    env(name)
        .map(PathBuf::from)
        .ok_or_else(|| bad_input(format!("{name} is not set: the Seed runtime passes it")))
}

/// The geo-referencing tags of a GeoTIFF (GeoTIFF 1.1: the raster-to-model transformation
/// and the key directory with its parameters), copied as they are from input to output so
/// the steps' results lie where their input lies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoTags {
    pub pixel_scale: Option<Vec<f64>>,
    pub tiepoints: Option<Vec<f64>>,
    pub key_directory: Option<Vec<u16>>,
    pub double_params: Option<Vec<f64>>,
    pub ascii_params: Option<String>,
}

/// One image: `bands` samples per pixel, interleaved, row by row.
pub struct Raster<T> {
    pub width: u32,
    pub height: u32,
    pub bands: usize,
    pub samples: Vec<T>,
    pub geo: GeoTags,
    /// The GDAL no-data value (tag 42113), as text.
    pub nodata: Option<String>,
}

fn open(path: &Path) -> Result<Decoder<BufReader<File>>, Failure> {
    let file =
        File::open(path).map_err(|e| bad_input(format!("cannot open {}: {e}", path.display())))?;
    Decoder::new(BufReader::new(file))
        .map_err(|e| bad_input(format!("{} is not a TIFF file: {e}", path.display())))
}

/// Reads the first image of the TIFF at `path`; `pick` takes the samples of the type the
/// step expects, `kind` says that type in the error when the file has another.
fn read<T: Copy>(
    path: &Path,
    kind: &str,
    pick: impl FnOnce(DecodingResult) -> Option<Vec<T>>,
) -> Result<Raster<T>, Failure> {
    let shown = path.display();
    let mut decoder = open(path)?;
    let (width, height) = decoder
        .dimensions()
        .map_err(|e| bad_input(format!("{shown}: {e}")))?;
    let mut image = DecodingResult::U8(Vec::new());
    let layout = decoder
        .read_image_to_buffer(&mut image)
        .map_err(|e| bad_input(format!("{shown}: cannot read the image: {e}")))?;
    if image.as_buffer(0).byte_len() < layout.complete_len {
        return Err(bad_input(format!("{shown}: too large to read at once")));
    }
    let samples =
        pick(image).ok_or_else(|| bad_input(format!("{shown}: expected {kind} samples")))?;
    let pixels = width as usize * height as usize;
    if pixels == 0 || samples.len() % pixels != 0 {
        return Err(bad_input(format!(
            "{shown}: {width}x{height} image with {} samples",
            samples.len()
        )));
    }
    let bands = samples.len() / pixels;
    // A band-interleaved (planar) file holds each band whole, one after the other: the
    // steps take the samples of a pixel together.
    let samples = if layout.planes > 1 {
        (0..pixels)
            .flat_map(|pixel| (0..bands).map(move |band| band * pixels + pixel))
            .map(|at| samples[at])
            .collect()
    } else {
        samples
    };
    use tiff::decoder::ifd::Value;
    let geo = GeoTags {
        pixel_scale: tag(&mut decoder, Tag::ModelPixelScaleTag, Value::into_f64_vec)?,
        tiepoints: tag(&mut decoder, Tag::ModelTiepointTag, Value::into_f64_vec)?,
        key_directory: tag(&mut decoder, Tag::GeoKeyDirectoryTag, Value::into_u16_vec)?,
        double_params: tag(&mut decoder, Tag::GeoDoubleParamsTag, Value::into_f64_vec)?,
        ascii_params: tag(&mut decoder, Tag::GeoAsciiParamsTag, Value::into_string)?,
    };
    let nodata = tag(&mut decoder, Tag::GdalNodata, Value::into_string)?
        .map(|text| text.trim_end_matches('\0').trim().to_string());
    Ok(Raster {
        width,
        height,
        bands,
        samples,
        geo,
        nodata,
    })
}

/// A tag of the image, if it has it, as `convert` reads it; a tag of another type than
/// GeoTIFF or GDAL give it is a bad input.
fn tag<T>(
    decoder: &mut Decoder<BufReader<File>>,
    tag: Tag,
    convert: impl FnOnce(tiff::decoder::ifd::Value) -> tiff::TiffResult<T>,
) -> Result<Option<T>, Failure> {
    let unreadable = |e: tiff::TiffError| bad_input(format!("cannot read TIFF tag {tag:?}: {e}"));
    match decoder.find_tag(tag).map_err(unreadable)? {
        Some(value) => convert(value).map(Some).map_err(unreadable),
        None => Ok(None),
    }
}

/// A raster of unsigned 16-bit samples (the two-band red/NIR input).
pub fn read_u16(path: &Path) -> Result<Raster<u16>, Failure> {
    read(path, "unsigned 16-bit", |image| match image {
        DecodingResult::U16(samples) => Some(samples),
        _ => None,
    })
}

/// A raster of 32-bit float samples (the NDVI).
pub fn read_f32(path: &Path) -> Result<Raster<f32>, Failure> {
    read(path, "32-bit float", |image| match image {
        DecodingResult::F32(samples) => Some(samples),
        _ => None,
    })
}

/// A raster of unsigned 8-bit samples (the mask).
pub fn read_u8(path: &Path) -> Result<Raster<u8>, Failure> {
    read(path, "unsigned 8-bit", |image| match image {
        DecodingResult::U8(samples) => Some(samples),
        _ => None,
    })
}

/// Writes a one-band raster, Deflate-compressed, with `geo`'s tags and a GDAL no-data
/// value; the file is made readable by all (the Seed contract for outputs).
fn write<C: ColorType>(
    path: &Path,
    width: u32,
    height: u32,
    samples: &[C::Inner],
    geo: &GeoTags,
    nodata: &str,
) -> Result<(), Failure>
where
    [C::Inner]: TiffValue,
{
    let shown = path.display();
    let failed = |e: tiff::TiffError| cannot_write(format!("cannot write {shown}: {e}"));
    let file =
        File::create(path).map_err(|e| cannot_write(format!("cannot create {shown}: {e}")))?;
    let mut encoder = TiffEncoder::new(BufWriter::new(file))
        .map_err(failed)?
        .with_compression(Compression::Deflate(DeflateLevel::Best));
    let mut image = encoder.new_image::<C>(width, height).map_err(failed)?;
    write_geo(image.encoder(), geo).map_err(failed)?;
    image
        .encoder()
        .write_tag(Tag::GdalNodata, nodata)
        .map_err(failed)?;
    image.write_data(samples).map_err(failed)?;
    readable_by_all(path)
}

/// Writes the geo-referencing tags that `geo` has.
pub fn write_geo<W: std::io::Write + std::io::Seek, K: tiff::encoder::TiffKind>(
    directory: &mut tiff::encoder::DirectoryEncoder<'_, W, K>,
    geo: &GeoTags,
) -> tiff::TiffResult<()> {
    if let Some(values) = &geo.pixel_scale {
        directory.write_tag(Tag::ModelPixelScaleTag, values.as_slice())?;
    }
    if let Some(values) = &geo.tiepoints {
        directory.write_tag(Tag::ModelTiepointTag, values.as_slice())?;
    }
    if let Some(values) = &geo.key_directory {
        directory.write_tag(Tag::GeoKeyDirectoryTag, values.as_slice())?;
    }
    if let Some(values) = &geo.double_params {
        directory.write_tag(Tag::GeoDoubleParamsTag, values.as_slice())?;
    }
    if let Some(text) = &geo.ascii_params {
        directory.write_tag(Tag::GeoAsciiParamsTag, text.as_str())?;
    }
    Ok(())
}

/// Writes a float32 raster whose no-data value is NaN.
pub fn write_f32(
    path: &Path,
    width: u32,
    height: u32,
    samples: &[f32],
    geo: &GeoTags,
) -> Result<(), Failure> {
    write::<Gray32Float>(path, width, height, samples, geo, "nan")
}

/// Writes a uint8 raster with the given no-data value.
pub fn write_u8(
    path: &Path,
    width: u32,
    height: u32,
    samples: &[u8],
    geo: &GeoTags,
    nodata: u8,
) -> Result<(), Failure> {
    write::<Gray8>(path, width, height, samples, geo, &nodata.to_string())
}

/// The step's output file may be read by another user than the one that wrote it.
pub fn readable_by_all(path: &Path) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| cannot_write(format!("cannot make {} readable: {e}", path.display())))
}

/// Where a step writes `name`.
pub fn output_path(name: &str) -> Result<PathBuf, Failure> {
    Ok(required_path("OUTPUT_DIR")?.join(name))
}
