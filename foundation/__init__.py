"""The shared ground floor: small named helpers every area may import (no heavy libraries)."""
