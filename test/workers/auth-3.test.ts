/** The authorization suite (./auth-cases.ts), part 3 of 4: every fourth scoped operation from the third. */
import { defineAuthSuite } from "./auth-cases";

defineAuthSuite(2, 4);
