"""Procedural object assets: real-world sizes, textures, natural display names."""

from builders.assets.base import Asset, Category, Material, Part, all_categories, get_category, make_asset

__all__ = ["Asset", "Category", "Material", "Part", "all_categories", "get_category", "make_asset"]
