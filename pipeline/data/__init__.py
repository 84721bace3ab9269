"""Datasets: official raw releases in, normalized arrays out."""
