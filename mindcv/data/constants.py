"""Normalization statistics shared by the models' pretrained configs and the transforms.

They are on the 0-255 scale because MindSpore's `Normalize` runs on decoded uint8 images, as in
MindCV; fine-tuning keeps the statistics of the weights being tuned.
"""

IMAGENET_DEFAULT_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_DEFAULT_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
