import Foundation

/// Zero-shot prompt templates and temperatures, chosen on a tuning part of the development data
/// (see the eval table in the README for how they were measured).
public enum ZeroShotDefaults {
    public static let cuadTemplates = ["{label}: {description}", "{example}"]
    public static let cuadTemperature = 0.05
    public static let sectionTemplates = ["clinical note section: {description}", "{example}"]
    public static let sectionTemperature = 0.05
    public static let specialtyTemplates = ["medical specialty: {label}"]
    public static let specialtyTemperature = 0.05
}
