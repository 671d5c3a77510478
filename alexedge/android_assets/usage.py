"""``USAGE.md``: the few lines an app needs to run the bundled model, per platform.

The snippets are filled in with this model's facts (input size and type, output
quantization, the crop that matches validation), so they are right as written.
Placeholders are ``@NAME@`` because Kotlin and Swift use both braces and ``$``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from alexedge.android_assets.model_io import ModelIO
from alexedge.preprocess import base_size_for

__all__ = ["usage_markdown"]

_HEADER = """# Using model.tflite

@DESCRIPTION@

- Input: one @SIZE@x@SIZE@ RGB image, @INPUT_DTYPE@, raw 0-255 pixel values (the model
  normalizes inside; the embedded metadata says mean 0, std 1).
- Output: @CLASSES@ class probabilities (@OUTPUT_DTYPE@@OUTPUT_QUANT@), in `labels.txt` order.
- Labels and normalization are embedded in `model.tflite` (TFLite Model Metadata), so
  MediaPipe Tasks names the classes with no extra file; `labels.txt` is the same list.
- Validation preprocessing: resize the shorter side to @BASE@, take the centre @SIZE@x@SIZE@
  crop. The snippets below crop the centre @CROP_PERCENT@% square of the shorter side
  (@SIZE@/@BASE@) and let the library resize it: the same pixels up to the resize filter.
- `golden/golden.json`: the top-5 that alexedge's edge runtime gives for the images in
  `golden/`. Classify them in an instrumented test with the app's own code: the top-1
  labels must match; scores may differ by a few hundredths (resize filters differ).
  Anything more points at preprocessing (BGR, squashing instead of cropping, normalizing).
"""

_KOTLIN_MEDIAPIPE = """## Android: MediaPipe Tasks (Kotlin)

Put `model.tflite` in `app/src/main/assets/`; `build.gradle`:
`implementation("com.google.mediapipe:tasks-vision:latest.release")` (pin the version you test).

```kotlin
import android.graphics.Bitmap
import android.graphics.RectF
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.vision.core.ImageProcessingOptions
import com.google.mediapipe.tasks.vision.imageclassifier.ImageClassifier

val classifier = ImageClassifier.createFromOptions(
    context,
    ImageClassifier.ImageClassifierOptions.builder()
        .setBaseOptions(BaseOptions.builder().setModelAssetPath("model.tflite").build())
        .setMaxResults(5)
        .build(),
)

// The centre crop validation used, as a normalized region of interest.
fun centreCrop(width: Int, height: Int): RectF {
    val side = @CROP@f * minOf(width, height)
    val dx = side / width / 2f
    val dy = side / height / 2f
    return RectF(0.5f - dx, 0.5f - dy, 0.5f + dx, 0.5f + dy)
}

fun classify(bitmap: Bitmap) {
    val roi = ImageProcessingOptions.builder()
        .setRegionOfInterest(centreCrop(bitmap.width, bitmap.height)).build()
    val result = classifier.classify(BitmapImageBuilder(bitmap).build(), roi)
    for (category in result.classificationResult().classifications()[0].categories()) {
        println("${category.categoryName()} ${category.score()}")
    }
}
```
"""

_KOTLIN_LITERT = """## Android: LiteRT Interpreter API (Kotlin)

`build.gradle`: `implementation("com.google.ai.edge.litert:litert:latest.release")`.
Here the app preprocesses itself and reads labels from `labels.txt`.

```kotlin
import android.graphics.Bitmap
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel
import org.tensorflow.lite.Interpreter

val SIZE = @SIZE@
val labels = context.assets.open("labels.txt").bufferedReader().readLines()
val interpreter = context.assets.openFd("model.tflite").use { fd ->
    FileInputStream(fd.fileDescriptor).channel.use {
        Interpreter(it.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength))
    }
}

fun classify(bitmap: Bitmap): List<Pair<String, Float>> {
    val side = (@CROP@f * minOf(bitmap.width, bitmap.height)).toInt()
    val crop = Bitmap.createBitmap(
        bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side)
    val pixels = IntArray(SIZE * SIZE)
    Bitmap.createScaledBitmap(crop, SIZE, SIZE, true).getPixels(pixels, 0, SIZE, 0, 0, SIZE, SIZE)
    val input = ByteBuffer.allocateDirect(SIZE * SIZE * 3 * @INPUT_BYTES@)
        .order(ByteOrder.nativeOrder())
    for (p in pixels) {  // RGB, raw 0-255: no normalization
        for (shift in intArrayOf(16, 8, 0)) {
            @PUT_PIXEL@
        }
    }
@RUN_OUTPUT@
    return labels.zip(scores.toList()).sortedByDescending { it.second }.take(5)
}
```
"""

_SWIFT_MEDIAPIPE = """## iOS: MediaPipe Tasks (Swift)

Add `model.tflite` to the app target; `Podfile`: `pod 'MediaPipeTasksVision'`.

```swift
import MediaPipeTasksVision
import UIKit

let options = ImageClassifierOptions()
options.baseOptions.modelAssetPath = Bundle.main.path(forResource: "model", ofType: "tflite")!
options.maxResults = 5
let classifier = try ImageClassifier(options: options)

// The centre crop validation used, as a normalized region of interest.
func centreCrop(_ size: CGSize) -> CGRect {
    let side = @CROP@ * min(size.width, size.height)
    let w = side / size.width, h = side / size.height
    return CGRect(x: (1 - w) / 2, y: (1 - h) / 2, width: w, height: h)
}

func classify(_ image: UIImage) throws {
    let result = try classifier.classify(
        image: try MPImage(uiImage: image), regionOfInterest: centreCrop(image.size))
    for category in result.classificationResult.classifications[0].categories {
        print(category.categoryName ?? "?", category.score)
    }
}
```
"""

_UINT8_PIXEL = "input.put(((p shr shift) and 0xFF).toByte())"
_FLOAT_PIXEL = "input.putFloat(((p shr shift) and 0xFF).toFloat())"
_UINT8_OUTPUT = """    val raw = Array(1) { ByteArray(labels.size) }
    interpreter.run(input.rewind(), raw)
    // uint8 scores: probability = (q - @ZERO_POINT@) * @SCALE@
    val scores = raw[0].map { ((it.toInt() and 0xFF) - @ZERO_POINT@) * @SCALE@f }"""
_FLOAT_OUTPUT = """    val raw = Array(1) { FloatArray(labels.size) }
    interpreter.run(input.rewind(), raw)
    val scores = raw[0]"""


def usage_markdown(
    io: ModelIO,
    description: str,
    target: str = "android",
    notes: Sequence[str] = (),
    latency: Mapping[str, Any] | None = None,
) -> str:
    """USAGE.md for this model; ``target`` ("android" or "ios") decides which comes first.

    ``notes`` (runtime requirements, ``runtime.runtime_notes``) become header bullets:
    they decide which library versions the snippets below may use. ``latency``
    (``manifest.measured_latency``) becomes one more, naming the machine it holds for: a
    reader choosing a variant by its milliseconds must not take them for a phone's.
    """
    android = _KOTLIN_MEDIAPIPE + "\n" + _KOTLIN_LITERT
    sections = (android, _SWIFT_MEDIAPIPE) if target == "android" else (_SWIFT_MEDIAPIPE, android)
    header = _HEADER + "".join(f"- Runtime: {note}.\n" for note in notes)
    if latency is not None:
        header += _latency_bullet(latency)
    text = "\n".join((header, *sections))
    for name, value in _facts(io, description).items():
        text = text.replace(f"@{name}@", value)
    return text


def _latency_bullet(latency: Mapping[str, Any]) -> str:
    one, two = (latency.get(key) for key in ("ms_1_thread", "ms_2_threads"))
    if one is None or two is None:
        figures = "not measured"
    else:
        figures = f"{one:.2f} ms on 1 thread, {two:.2f} ms on 2 threads"
    return f"- Latency: {figures}, measured on {latency['measured_on']}; {latency['note']}.\n"


def _facts(io: ModelIO, description: str) -> dict[str, str]:
    size, base = io.input_size, base_size_for(io.input_size)
    uint8_in = io.input.dtype == "uint8"
    out = io.output
    quantized_out = out.dtype == "uint8" and out.scale > 0
    quant = f", probability = (q - {out.zero_point}) * {out.scale:g}" if quantized_out else ""
    return {
        # Filled in first: the snippets it selects hold placeholders of their own.
        "RUN_OUTPUT": _UINT8_OUTPUT if quantized_out else _FLOAT_OUTPUT,
        "PUT_PIXEL": _UINT8_PIXEL if uint8_in else _FLOAT_PIXEL,
        "DESCRIPTION": description,
        "SIZE": str(size),
        "BASE": str(base),
        "CROP": f"{size / base:.6f}",
        "CROP_PERCENT": f"{100 * size / base:.1f}",
        "INPUT_DTYPE": io.input.dtype,
        "INPUT_BYTES": "1" if uint8_in else "4",
        "CLASSES": str(io.num_classes),
        "OUTPUT_DTYPE": out.dtype,
        "OUTPUT_QUANT": quant,
        "ZERO_POINT": str(out.zero_point),
        "SCALE": f"{out.scale:g}",
    }
