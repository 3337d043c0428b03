//! Made `sample/red-nir.tif` once (`cargo run --bin make-sample -- sample/red-nir.tif`): a
//! 64×64 two-band unsigned 16-bit GeoTIFF (band 1 red, band 2 near infrared) in UTM zone
//! 33N (EPSG:32633), 10 m pixels, its upper left corner at (500000, 4650000). Four bands
//! of land, 16 rows each, with reflectances whose NDVI is known exactly:
//!
//! | rows   | land   | red | NIR  | NDVI  |
//! |--------|--------|-----|------|-------|
//! | 0–15   | water  | 600 | 300  | −1/3  |
//! | 16–31  | soil   | 1800| 2200 | 0.1   |
//! | 32–47  | grass  | 800 | 2400 | 0.5   |
//! | 48–63  | forest | 400 | 3600 | 0.8   |
//!
//! Both bands of a pixel are multiplied by 1 + (column mod 4), a texture that leaves the
//! NDVI as it is, and the 8×8 pixels of the upper left corner are 0, the no-data value.

use ades_example_ndvi::{write_geo, GeoTags};
use std::fs::File;
use std::io::BufWriter;
use tiff::encoder::colortype::Gray16;
use tiff::encoder::{Compression, DeflateLevel, TiffEncoder};
use tiff::tags::{ExtraSamples, Tag};

const SIZE: u32 = 64;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: make-sample <output.tif>");
    let mut samples = Vec::with_capacity((SIZE * SIZE * 2) as usize);
    for row in 0..SIZE {
        let (red, nir): (u16, u16) = match row / 16 {
            0 => (600, 300),
            1 => (1800, 2200),
            2 => (800, 2400),
            _ => (400, 3600),
        };
        for column in 0..SIZE {
            let texture = 1 + (column % 4) as u16;
            if row < 8 && column < 8 {
                samples.extend([0, 0]);
            } else {
                samples.extend([red * texture, nir * texture]);
            }
        }
    }
    let geo = GeoTags {
        pixel_scale: Some(vec![10.0, 10.0, 0.0]),
        tiepoints: Some(vec![0.0, 0.0, 0.0, 500000.0, 4650000.0, 0.0]),
        // Version 1.1.0, 3 keys: a projected model, pixels are areas, EPSG:32633.
        key_directory: Some(vec![
            1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633,
        ]),
        double_params: None,
        ascii_params: None,
    };
    let file = BufWriter::new(File::create(&path).expect("create the sample"));
    let mut encoder = TiffEncoder::new(file)
        .unwrap()
        .with_compression(Compression::Deflate(DeflateLevel::Best));
    let mut image = encoder.new_image::<Gray16>(SIZE, SIZE).unwrap();
    // The second band is a plain extra sample (not alpha), as GDAL writes two bands.
    image.extra_samples(&[ExtraSamples::Unspecified]).unwrap();
    write_geo(image.encoder(), &geo).unwrap();
    image.encoder().write_tag(Tag::GdalNodata, "0").unwrap();
    image.write_data(&samples).unwrap();
}
