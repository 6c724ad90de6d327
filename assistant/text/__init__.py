"""Text utilities shared by every layer: words and stems, markdown lines, sentences, question shapes.

Nothing here knows about indexes, models or backends; everything above may use it.
"""
