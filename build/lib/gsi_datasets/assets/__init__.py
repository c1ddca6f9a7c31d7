"""Procedural object assets: real-world sizes, textures, natural display names."""

from gsi_datasets.assets.base import Asset, Category, Material, Part, all_categories, get_category, make_asset

__all__ = ["Asset", "Category", "Material", "Part", "all_categories", "get_category", "make_asset"]
