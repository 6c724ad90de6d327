"""From passages to a cited answer.

The chain (follow-up -> retrieve -> gate -> compose -> cite), the coverage gate, prompts, citation
parsing, token counting and the composers (extractive, or an LLM backend).
"""
